# Optimizer Lens logging snippet: plain PyTorch training loop.
#
# Every `every` optimizer steps (and at step 1) this writes one JSON line per parameter tensor:
#   {"step", "layer", "shape", "numel", "lr", "param_rms", "grad_rms", "update_rms", "rel_step",
#    "adam_u_rms", "eps_dominated_frac", ...}
# which Optimizer Lens reads (Analyze File... / `optimizer-lens analyze optimizer_lens.jsonl`).
#   param_rms   RMS of the parameter before step t        grad_rms  RMS of the gradient step t consumed
#   update_rms  RMS of (param after - param before)        rel_step  update_rms / param_rms (null if 0)
#   adam_u_rms  RMS of m_hat / (sqrt(v_hat) + eps), read from torch.optim.Adam/AdamW state, eps added
#               after bias correction exactly as torch does; eps_dominated_frac = fraction of
#               sqrt(v_hat) < eps. Both null for other optimizers (SGD adds momentum_buffer_rms).
# Cost: nothing on other steps; on a logged step one copy of the parameters and a few fused
# reductions per tensor on its own device, then a single device-to-host transfer. Only torch needed
# (1.13 or 2.x).
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
# With torch >= 2.0 you can instead call lens.attach() once (optimizer step hooks).
# In distributed runs only rank 0 writes. Sharded optimizers (FSDP, ZeRO) see only their shard.

# ---- optimizer-lens core begin ----
import json
import math

import torch


class OptimizerLensLogger:
    """Writes per-layer optimizer diagnostics as JSONL every `every` optimizer steps."""

    def __init__(self, model, optimizer, path="optimizer_lens.jsonl", every=100, log_first_step=True):
        self.optimizer = optimizer
        self.path = path
        self.every = max(1, int(every))
        self.log_first_step = log_first_step
        self.steps_taken = 0  # optimizer steps seen by after_step()
        self._names = {id(p): name for name, p in model.named_parameters()}
        self._pending = None
        self._file = None
        self._hooks = []
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        self.enabled = (not distributed) or torch.distributed.get_rank() == 0

    def should_log(self, step):
        return self.enabled and (step % self.every == 0 or (self.log_first_step and step == 1))

    def before_step(self, step=None):
        """Call after backward (and after clipping / unscaling), right before optimizer.step()."""
        step = self.steps_taken + 1 if step is None else int(step)
        self._pending = None
        if not self.should_log(step):
            return
        optimizer = _unwrap_optimizer(self.optimizer)
        is_adam = type(optimizer).__name__ in ("Adam", "AdamW") and type(optimizer).__module__.startswith("torch.optim")
        entries = []
        with torch.no_grad():
            for group_index, group in enumerate(optimizer.param_groups):
                for index, p in enumerate(group["params"]):
                    if p.grad is None or p.numel() == 0:
                        continue
                    name = self._names.get(id(p), "param_group%d.%d" % (group_index, index))
                    before = p.detach().clone()
                    entries.append({
                        "param": p, "group": group, "name": name, "before": before,
                        "param_norm": _norm64(before), "grad_norm": _norm64(p.grad.detach()),
                        "lr": group["lr"],
                    })
        self._pending = {"step": step, "entries": entries, "is_adam": is_adam,
                         "decoupled_decay": type(optimizer).__name__ == "AdamW", "optimizer": optimizer}

    def after_step(self):
        """Call right after optimizer.step(): measures the update, reads the optimizer state, writes the lines."""
        self.steps_taken += 1
        pending, self._pending = self._pending, None
        if pending is None:
            return
        step = pending["step"]
        state = pending["optimizer"].state
        values = {}  # device -> list of 0-d float64 tensors, fetched with one transfer per device

        def put(tensor):
            bucket = values.setdefault(tensor.device, [])
            bucket.append(tensor.to(torch.float64).reshape(()))
            return (tensor.device, len(bucket) - 1)

        rows = []
        with torch.no_grad():
            for e in pending["entries"]:
                p, group = e["param"], e["group"]
                before = e.pop("before")
                update_norm = _norm64(before.sub_(p.detach()))  # before - after: same norm as the update
                del before
                st = state.get(p, {})
                row = {"e": e, "param_norm": put(e["param_norm"]), "grad_norm": put(e["grad_norm"]),
                       "update_norm": put(update_norm)}
                lr = e["lr"]
                row["lr"] = put(lr) if torch.is_tensor(lr) else float(lr)
                if pending["is_adam"] and "exp_avg" in st and "exp_avg_sq" in st:
                    u_norm, eps_count = _adam_u(st, group)
                    row["adam_u_norm"], row["eps_count"] = put(u_norm), put(eps_count)
                if st.get("momentum_buffer") is not None:
                    row["momentum_norm"] = put(_norm64(st["momentum_buffer"]))
                rows.append(row)
        fetched = {device: torch.stack(bucket).cpu().tolist() for device, bucket in values.items()}

        def get(ref):
            if ref is None or isinstance(ref, float):
                return ref
            return fetched[ref[0]][ref[1]]

        lines = []
        for row in rows:
            e = row["e"]
            p, group = e["param"], e["group"]
            numel = p.numel()
            root = math.sqrt(numel)
            param_rms = get(row["param_norm"]) / root
            update_rms = get(row["update_norm"]) / root
            lr = get(row["lr"])
            record = {
                "step": step, "layer": e["name"], "shape": list(p.shape), "numel": numel, "lr": lr,
                "param_rms": param_rms, "grad_rms": get(row["grad_norm"]) / root, "update_rms": update_rms,
                "rel_step": update_rms / param_rms if param_rms > 0 else None,
                "adam_u_rms": None, "eps_dominated_frac": None,
            }
            if "adam_u_norm" in row:
                record["adam_u_rms"] = get(row["adam_u_norm"]) / root
                record["eps_dominated_frac"] = get(row["eps_count"]) / numel
                if pending["decoupled_decay"]:
                    record["decay_rms"] = lr * float(group.get("weight_decay", 0.0)) * param_rms
            if "momentum_norm" in row:
                record["momentum_buffer_rms"] = get(row["momentum_norm"]) / root
            lines.append(json.dumps(record))
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write("".join(line + "\n" for line in lines))
        self._file.flush()

    def attach(self):
        """torch >= 2.0: call before_step/after_step from optimizer step hooks instead of by hand."""
        optimizer = _unwrap_optimizer(self.optimizer)
        self._hooks.append(optimizer.register_step_pre_hook(lambda *args, **kwargs: self.before_step()))
        self._hooks.append(optimizer.register_step_post_hook(lambda *args, **kwargs: self.after_step()))
        return self

    def close(self):
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        if self._file is not None:
            self._file.close()
            self._file = None


def _unwrap_optimizer(optimizer):
    # Lightning's LightningOptimizer and accelerate's AcceleratedOptimizer keep the torch optimizer in .optimizer
    while type(optimizer).__name__ not in ("Adam", "AdamW", "SGD") and hasattr(optimizer, "optimizer"):
        optimizer = optimizer.optimizer
    return optimizer


def _norm64(tensor):
    # L2 norm accumulated in float64 on the tensor's own device (no host sync)
    return torch.linalg.vector_norm(tensor, dtype=torch.float64)


def _adam_u(st, group):
    """Norm of u = m_hat / (sqrt(v_hat) + eps) and the count of sqrt(v_hat) < eps, torch's form."""
    beta1, beta2 = group["betas"]
    eps = group["eps"]
    exp_avg = st["exp_avg"]
    exp_avg_sq = st["max_exp_avg_sq"] if group.get("amsgrad") and "max_exp_avg_sq" in st else st["exp_avg_sq"]
    if exp_avg.dtype in (torch.float16, torch.bfloat16):
        exp_avg, exp_avg_sq = exp_avg.float(), exp_avg_sq.float()
    device = exp_avg.device
    step = torch.as_tensor(st["step"], dtype=torch.float64).to(device)  # stays on device: no host sync
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    denom = exp_avg_sq.sqrt().div_(bias_correction2.sqrt()).add_(eps)
    u = exp_avg.div(bias_correction1).div_(denom)
    del denom
    u_norm = _norm64(u)
    del u
    # sqrt(v / bc2) < eps  <=>  v < eps^2 * bc2, compared against the smallest float >= the threshold
    threshold = (eps * eps) * bias_correction2
    if exp_avg_sq.dtype == torch.float32:
        rounded = threshold.float()
        threshold = torch.where(rounded.double() < threshold,
                                torch.nextafter(rounded, torch.full_like(rounded, math.inf)), rounded)
    eps_count = (exp_avg_sq < threshold.to(exp_avg_sq.dtype)).sum()
    return u_norm, eps_count
# ---- optimizer-lens core end ----
