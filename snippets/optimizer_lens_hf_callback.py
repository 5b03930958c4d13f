# Optimizer Lens logging snippet: Hugging Face transformers Trainer callback.
#
# Usage:
#     trainer = Trainer(model=model, args=args, train_dataset=train_dataset,
#                       callbacks=[OptimizerLensCallback("optimizer_lens.jsonl")])
#     trainer.train()
# Logs every TrainingArguments.logging_steps optimizer steps (or every=N) and at step 1. "step" is the
# Trainer's global_step after the optimizer step (state.global_step + 1 while stepping); grad_rms is
# after the Trainer's gradient clipping. Any optimizer the Trainer builds (optim="adamw_torch", the
# default, "adafactor", "lion_32bit", "adamw_bnb_8bit", ...) is measured; adam_u_rms needs torch's Adam/AdamW.
# Uses the Trainer's on_pre_optimizer_step / on_optimizer_step events (transformers >= 4.45); with older
# transformers it falls back to torch >= 2.0 optimizer step hooks. Only the main process writes.
# A new run starts the file afresh; a run resumed from a checkpoint adds to it.
# Not for sharded optimizers (FSDP, DeepSpeed ZeRO): their state holds one shard.
# fp16 with GradScaler and max_grad_norm=0: the Trainer has not unscaled the gradients yet at this point,
# so grad_rms includes the loss scale (with gradient clipping, the default, they are unscaled).

from transformers import TrainerCallback

from optimizer_lens_core import OptimizerLensLogger, _unwrap_optimizer  # (Insert Logging Snippet pastes the core here)


class OptimizerLensCallback(TrainerCallback):
    def __init__(self, path="optimizer_lens.jsonl", every=None, log_first_step=True):
        self.path = path
        self.every = every
        self.log_first_step = log_first_step
        self.lens = None
        self._uses_hooks = False

    def _ensure(self, args, state, model, optimizer):
        if self.lens is None and model is not None and optimizer is not None:
            every = self.every
            if every is None:  # the Trainer's logging_steps: a step count, or below 1 a fraction of max_steps
                every = args.logging_steps
                if every < 1:
                    every = -int(-state.max_steps * every // 1)  # rounded up, as the Trainer does
            # a run resumed from a checkpoint adds to the log; a new run starts it afresh
            self.lens = OptimizerLensLogger(model, optimizer, self.path, every, self.log_first_step,
                                            append=state.global_step > 0)
            self.lens.enabled = self.lens.enabled and state.is_world_process_zero
        return self.lens

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        lens = self._ensure(args, state, model, optimizer)
        if lens is not None and not hasattr(TrainerCallback, "on_pre_optimizer_step"):
            # transformers < 4.45: no event between backward and the optimizer step; use torch's step hooks
            if not hasattr(_unwrap_optimizer(optimizer), "register_step_pre_hook"):
                raise RuntimeError("OptimizerLensCallback needs transformers >= 4.45 or torch >= 2.0 "
                                   "(an event right before optimizer.step()); use OptimizerLensLogger by hand")
            self._uses_hooks = True
            lens.steps_taken = state.global_step
            lens.attach()

    def on_pre_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
        lens = self._ensure(args, state, model, optimizer)
        if lens is not None and not self._uses_hooks:
            lens.before_step(state.global_step + 1)

    def on_optimizer_step(self, args, state, control, **kwargs):
        if self.lens is not None and not self._uses_hooks:
            self.lens.after_step()

    def on_train_end(self, args, state, control, **kwargs):
        if self.lens is not None:
            self.lens.close()
