# Optimizer Lens logging snippet: plain PyTorch training loop.
#
# Usage:
#     lens = OptimizerLensLogger(model, optimizer, "optimizer_lens.jsonl", every=100)
#     for batch in loader:
#         loss = model(batch).loss
#         loss.backward()
#         # (with AMP GradScaler: scaler.unscale_(optimizer) here, so grads are the real ones)
#         lens.before_step()
#         optimizer.step()              # or scaler.step(optimizer)
#         lens.after_step()
#         optimizer.zero_grad()
#     lens.close()
# The file is started afresh by the first logged step; pass append=True when resuming a run.
# With torch >= 2.0 you can instead call lens.attach() once (optimizer step hooks).
# In distributed (DDP) runs only rank 0 writes. Not for sharded optimizers (FSDP, DeepSpeed ZeRO).

from optimizer_lens_core import OptimizerLensLogger  # noqa: F401 (Insert Logging Snippet pastes the core here)
