# Optimizer Lens logging snippet: PyTorch Lightning callback.
#
# Usage:
#     trainer = L.Trainer(callbacks=[OptimizerLensCallback("optimizer_lens.jsonl", every=100)])
#     trainer.fit(module, datamodule)
# "step" is trainer.global_step after the optimizer step; grad_rms is after Lightning's gradient
# clipping. Layer names are the LightningModule's named_parameters() (e.g. "model.encoder.weight").
# One optimizer per module (automatic optimization); gradient accumulation is fine (measured around
# each optimizer step). Only the global-zero process writes. A new run starts the file afresh; a
# resumed run adds to it. Not for sharded optimizers (FSDP, DeepSpeed ZeRO): their state holds one shard.

try:
    from lightning.pytorch import Callback
except ImportError:  # Lightning < 2.0 package name
    from pytorch_lightning import Callback

from optimizer_lens_core import OptimizerLensLogger  # (Insert Logging Snippet pastes the core here)


class OptimizerLensCallback(Callback):
    def __init__(self, path="optimizer_lens.jsonl", every=100, log_first_step=True):
        super().__init__()
        self.path = path
        self.every = every
        self.log_first_step = log_first_step
        self.lens = None
        self._stepping = False

    def on_before_optimizer_step(self, trainer, pl_module, optimizer, *args):
        # Runs after backward and gradient clipping, before the parameters change.
        if self.lens is None:
            # a run resumed from a checkpoint adds to the log; a new run starts it afresh
            self.lens = OptimizerLensLogger(pl_module, optimizer, self.path, self.every, self.log_first_step,
                                            append=trainer.global_step > 0)
            self.lens.enabled = self.lens.enabled and trainer.is_global_zero
        self.lens.optimizer = optimizer
        self.lens.before_step(trainer.global_step + 1)
        self._stepping = True

    def on_train_batch_end(self, trainer, pl_module, *args, **kwargs):
        # After the optimizer step (with gradient accumulation, only batches that stepped).
        if self._stepping:
            self._stepping = False
            self.lens.after_step()

    def on_train_end(self, trainer, pl_module):
        if self.lens is not None:
            self.lens.close()
