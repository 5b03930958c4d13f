# Every `every` optimizer steps (and at step 1) the logger writes one JSON line per parameter tensor:
#   {"step", "layer", "shape", "numel", "lr", "param_rms", "grad_rms", "update_rms", "rel_step",
#    "adam_u_rms", "eps_dominated_frac", "optimizer", "betas", "eps", "weight_decay", ...}
# which Optimizer Lens reads (Analyze File... / `optimizer-lens analyze optimizer_lens.jsonl`).
#   param_rms   RMS of the parameter before step t        grad_rms  RMS of the gradient step t consumed
#   update_rms  RMS of (param after - param before)        rel_step  update_rms / param_rms (null if 0)
#   adam_u_rms  RMS of m_hat / (sqrt(v_hat) + eps), read from torch.optim.Adam/AdamW state, eps added
#               after bias correction exactly as torch does; eps_dominated_frac = fraction of
#               sqrt(v_hat) < eps. Both null for other optimizers (SGD adds momentum_buffer_rms).
# Cost: nothing on other steps. On a logged step: one copy of the parameters, reductions on each
# tensor's own device in float64 through a reused scratch buffer (at most 34 MiB per device), and a
# single device-to-host transfer for the whole model. Only torch needed (1.13 or 2.x).
import json
import math

import torch


class OptimizerLensLogger:
    """Writes per-layer optimizer diagnostics as JSONL every `every` optimizer steps."""

    def __init__(self, model, optimizer, path="optimizer_lens.jsonl", every=100, log_first_step=True, append=False):
        self.optimizer = optimizer
        self.path = path
        self.append = append  # False: the first logged step starts the file afresh; True: add to it (resuming)
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
        kind = type(optimizer).__name__ if type(optimizer).__module__.startswith("torch.optim") else ""
        scratch = _Scratch()
        entries = []
        with torch.no_grad():
            for group_index, group in enumerate(optimizer.param_groups):
                for index, p in enumerate(group["params"]):
                    if p.grad is None or p.numel() == 0:
                        continue
                    grad = p.grad.detach()
                    if grad.is_sparse:  # the stored values; the implicit zeros add nothing to the sum
                        grad = grad.coalesce().values()
                    entries.append({
                        "param": p, "group": group, "lr": group["lr"], "before": p.detach().clone(),
                        "name": self._names.get(id(p), "param_group%d.%d" % (group_index, index)),
                        "param_sq": scratch.sum_of_squares(p.detach()), "grad_sq": scratch.sum_of_squares(grad),
                    })
        self._pending = {"step": step, "entries": entries, "kind": kind, "optimizer": optimizer, "scratch": scratch}

    def after_step(self):
        """Call right after optimizer.step(): measures the update, reads the optimizer state, writes the lines."""
        self.steps_taken += 1
        pending, self._pending = self._pending, None
        if pending is None:
            return
        step, kind, scratch = pending["step"], pending["kind"], pending["scratch"]
        state = pending["optimizer"].state
        values = {}  # device -> 0-d float64 tensors, fetched with one transfer per device

        def put(tensor):
            bucket = values.setdefault(tensor.device, [])
            bucket.append(tensor.to(torch.float64).reshape(()))
            return (tensor.device, len(bucket) - 1)

        rows = []
        with torch.no_grad():
            for e in pending["entries"]:
                p, group = e["param"], e["group"]
                st = state.get(p, {})
                row = {"e": e, "param_sq": put(e["param_sq"]), "grad_sq": put(e["grad_sq"]),
                       "update_sq": put(scratch.sum_of_squares(e.pop("before"), minus=p.detach()))}
                lr = e["lr"]
                row["lr"] = put(lr) if torch.is_tensor(lr) else float(lr)
                if kind in ("Adam", "AdamW") and "exp_avg" in st and "exp_avg_sq" in st:
                    u_sq, eps_count = scratch.adam_u(st, group)
                    row["adam_u_sq"], row["eps_count"] = put(u_sq), put(eps_count)
                if st.get("momentum_buffer") is not None:
                    row["momentum_sq"] = put(scratch.sum_of_squares(st["momentum_buffer"]))
                rows.append(row)
        fetched = {device: torch.stack(bucket).cpu().tolist() for device, bucket in values.items()}
        del scratch, values

        def rms(ref, numel):
            return math.sqrt(fetched[ref[0]][ref[1]] / numel)

        lines = []
        for row in rows:
            e = row["e"]
            p, group = e["param"], e["group"]
            numel = p.numel()
            param_rms = rms(row["param_sq"], numel)
            update_rms = rms(row["update_sq"], numel)
            lr = row["lr"] if isinstance(row["lr"], float) else fetched[row["lr"][0]][row["lr"][1]]
            record = {
                "step": step, "layer": e["name"], "shape": list(p.shape), "numel": numel, "lr": lr,
                "param_rms": param_rms, "grad_rms": rms(row["grad_sq"], numel), "update_rms": update_rms,
                "rel_step": update_rms / param_rms if param_rms > 0 else None,
                "adam_u_rms": None, "eps_dominated_frac": None,
            }
            record.update(_hyper(kind, group))
            if "adam_u_sq" in row:
                record["adam_u_rms"] = rms(row["adam_u_sq"], numel)
                record["eps_dominated_frac"] = fetched[row["eps_count"][0]][row["eps_count"][1]] / numel
                if kind == "AdamW":
                    record["decay_rms"] = lr * float(group.get("weight_decay", 0.0)) * param_rms
            if "momentum_sq" in row:
                record["momentum_buffer_rms"] = rms(row["momentum_sq"], numel)
            lines.append(json.dumps(record))
        if self._file is None:
            self._file = open(self.path, "a" if self.append else "w", encoding="utf-8")
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


def _hyper(kind, group):
    """The optimizer's hyper-parameters for this parameter's group (plain numbers only)."""
    hyper = {"optimizer": kind or None}
    for key in ("betas", "eps", "weight_decay", "momentum"):
        value = group.get(key)
        if isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) for v in value):
            hyper[key] = [float(v) for v in value]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            hyper[key] = float(value)
    return hyper


class _Scratch:
    """Reductions on the tensors' own devices, in float64, through two reused float64 buffers per device.

    Elements are widened to float64 (exactly) a chunk at a time, so squares neither round, underflow nor
    overflow, sums accumulate in float64, and memory stays bounded (2 x CHUNK elements) whatever the tensor
    size. Results stay on the device as 0-d tensors until after_step() fetches them all at once.
    """

    CHUNK = 1 << 21  # 2 x 16 MiB of float64 (+ 2 MiB of bool) per device at most

    def __init__(self):
        self.buffers = {}

    def _buffers(self, device, n):
        bufs = self.buffers.get(device)
        if bufs is None or bufs[0].numel() < n:
            size = min(max(n, 1 << 16), self.CHUNK)
            bufs = (torch.empty(size, dtype=torch.float64, device=device),
                    torch.empty(size, dtype=torch.float64, device=device),
                    torch.empty(size, dtype=torch.bool, device=device))
            self.buffers[device] = bufs
        return bufs[0][:n], bufs[1][:n], bufs[2][:n]

    def _chunks(self, n):
        return [(a, min(n, a + self.CHUNK)) for a in range(0, n, self.CHUNK)]

    def sum_of_squares(self, tensor, minus=None):
        """sum(x**2), or sum((x - minus)**2): exact float64 differences of the stored values."""
        flat = tensor.reshape(-1)
        other = None if minus is None else minus.reshape(-1)
        total = None
        for a, b in self._chunks(flat.numel()):
            buf, buf2, _ = self._buffers(flat.device, b - a)
            buf.copy_(flat[a:b])
            if other is not None:
                buf.sub_(buf2.copy_(other[a:b]))
            part = torch.dot(buf, buf)
            total = part if total is None else total + part
        return total

    def adam_u(self, st, group):
        """sum(u**2) for u = m_hat / (sqrt(v_hat) + eps) and the count of sqrt(v_hat) < eps, torch's form:
        m_hat = exp_avg / (1 - beta1**t), v_hat = exp_avg_sq / (1 - beta2**t), eps after bias correction."""
        beta1, beta2 = group["betas"]
        eps = float(group["eps"])
        exp_avg = st["exp_avg"].reshape(-1)
        exp_avg_sq = (st["max_exp_avg_sq"] if group.get("amsgrad") and "max_exp_avg_sq" in st else st["exp_avg_sq"]).reshape(-1)
        step = st["step"]
        if torch.is_tensor(step) and step.device.type != "cpu":  # capturable / fused: keep t on the device
            t = step.to(torch.float64)
            bias_correction1, sqrt_bias_correction2 = 1 - beta1 ** t, (1 - beta2 ** t).sqrt()
        else:
            t = float(step)
            bias_correction1, sqrt_bias_correction2 = 1 - beta1 ** t, math.sqrt(1 - beta2 ** t)
        u_sq = count = None
        for a, b in self._chunks(exp_avg.numel()):
            denom, u, mask = self._buffers(exp_avg.device, b - a)
            denom.copy_(exp_avg_sq[a:b]).sqrt_().div_(sqrt_bias_correction2)  # sqrt(v_hat)
            part_count = torch.count_nonzero(torch.lt(denom, eps, out=mask))
            denom.add_(eps)
            u.copy_(exp_avg[a:b]).div_(bias_correction1).div_(denom)
            part = torch.dot(u, u)
            u_sq = part if u_sq is None else u_sq + part
            count = part_count if count is None else count + part_count
        return u_sq, count
