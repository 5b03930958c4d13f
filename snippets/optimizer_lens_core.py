# Every `every` optimizer steps (and at step 1) the logger writes one JSON line per parameter tensor:
#   {"step", "layer", "shape", "numel", "lr", "param_rms", "grad_rms", "update_rms", "rel_step",
#    "direction_rms", "adam_u_rms", "eps_dominated_frac", "optimizer", "betas", "eps", "weight_decay", ...}
# which Optimizer Lens reads (Analyze File... / `optimizer-lens analyze optimizer_lens.jsonl`).
#   param_rms      RMS of the parameter before step t      grad_rms  RMS of the gradient step t consumed
#   update_rms     RMS of (param after - param before)      rel_step  update_rms / param_rms (null if 0)
#   direction_rms  RMS of the optimizer's normalized direction d, measured from the step itself for any
#                  optimizer: d = (param before - param after - decoupled decay) / lr. Adam: d = m_hat /
#                  (sqrt(v_hat) + eps); SGD/RMSprop with momentum: the momentum buffer; Lion: sign, RMS 1.
#   decay_rms      RMS of the decoupled decay's share of the step (lr * weight_decay * param before),
#                  written exactly where the snippet takes the decay out of d, i.e. assumes the optimizer
#                  applies p *= 1 - lr * weight_decay apart from its direction: AdamW (torch, HF, timm,
#                  bitsandbytes), bitsandbytes Adam/AdEMAMix, apex/DeepSpeed FusedAdam in adam_w_mode,
#                  Lion, Adafactor, Muon, and any optimizer whose group says decoupled_weight_decay /
#                  decoupled_decay. Every other optimizer (Adam, SGD, RMSprop, Adagrad, LAMB without
#                  decoupled_decay, ...) is taken to add its decay to the gradient: then it is part of d.
#   effective_lr   Adafactor only: the lr its step applied (it scales the group's lr itself: relative_step,
#                  scale_parameter; torch.optim.Adafactor's min(lr, 1/sqrt(t)) * RMS(param)); direction_rms
#                  is relative to it. lr is the group's lr (null when it has none: relative_step=True).
#   adam_u_rms     RMS of m_hat / (sqrt(v_hat) + eps), read from torch.optim.Adam/AdamW state, eps added
#                  after bias correction exactly as torch does; eps_dominated_frac = fraction of
#                  sqrt(v_hat) < eps. Both null for other optimizers (momentum_buffer_rms where one exists).
#   optimizer      the optimizer's class name ("AdamW", "Lion", "Adafactor", "AdamW8bit", ...), then its
#                  group's betas, eps, weight_decay, momentum (plain numbers only)
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
        self._pending = {"step": step, "entries": entries, "optimizer": optimizer, "scratch": scratch}

    def after_step(self):
        """Call right after optimizer.step(): measures the update, reads the optimizer state, writes the lines."""
        self.steps_taken += 1
        pending, self._pending = self._pending, None
        if pending is None:
            return
        step, optimizer, scratch = pending["step"], pending["optimizer"], pending["scratch"]
        name = type(optimizer).__name__
        torch_adam = name in ("Adam", "AdamW") and type(optimizer).__module__.startswith("torch.optim")
        state = optimizer.state
        values = {}  # device -> 0-d float64 tensors, fetched with one transfer per device

        def put(tensor):
            bucket = values.setdefault(tensor.device, [])
            bucket.append(tensor.to(torch.float64).reshape(()))
            return (tensor.device, len(bucket) - 1)

        def number(x):  # a Python number stays on the host; a tensor joins the one transfer
            return None if x is None else put(x.detach()) if torch.is_tensor(x) else float(x)

        rows = []
        with torch.no_grad():
            for e in pending["entries"]:
                p, group = e["param"], e["group"]
                st = state.get(p, {})
                decay = _decoupled_weight_decay(optimizer, group)  # None: decay (if any) is in the gradient
                update_sq, cross = scratch.update_sums(e.pop("before"), p.detach(), cross=bool(decay))
                row = {"e": e, "decay": decay, "param_sq": put(e["param_sq"]), "grad_sq": put(e["grad_sq"]),
                       "update_sq": put(update_sq), "cross": None if cross is None else put(cross),
                       "lr": number(e["lr"])}
                if "adafactor" in name.lower():
                    row["adafactor"] = (number(st.get("step")), number(st.get("RMS")))
                if torch_adam and "exp_avg" in st and "exp_avg_sq" in st:
                    u_sq, eps_count = scratch.adam_u(st, group)
                    row["adam_u_sq"], row["eps_count"] = put(u_sq), put(eps_count)
                if st.get("momentum_buffer") is not None:
                    row["momentum_sq"] = put(scratch.sum_of_squares(st["momentum_buffer"]))
                rows.append(row)
        fetched = {device: torch.stack(bucket).cpu().tolist() for device, bucket in values.items()}
        del scratch, values

        def value(ref):
            return ref if ref is None or isinstance(ref, float) else fetched[ref[0]][ref[1]]

        def rms(ref, numel):
            return math.sqrt(value(ref) / numel)

        lines = []
        for row in rows:
            e = row["e"]
            p, group = e["param"], e["group"]
            numel = p.numel()
            param_rms = rms(row["param_sq"], numel)
            update_rms = rms(row["update_sq"], numel)
            lr = value(row["lr"])
            effective_lr, decay_lr = lr, lr
            if "adafactor" in row:
                t, rms_state = (value(ref) for ref in row["adafactor"])
                effective_lr, decay_lr = _adafactor_lrs(group, lr, t, param_rms if rms_state is None else rms_state)
            record = {"step": step, "layer": e["name"], "shape": list(p.shape), "numel": numel, "lr": lr}
            if "adafactor" in row:
                record["effective_lr"] = effective_lr
            record.update({
                "param_rms": param_rms, "grad_rms": rms(row["grad_sq"], numel), "update_rms": update_rms,
                "rel_step": update_rms / param_rms if param_rms > 0 else None,
                "direction_rms": None, "adam_u_rms": None, "eps_dominated_frac": None,
            })
            decay_coefficient = None  # c in p *= 1 - c, the decoupled decay of this step
            if row["decay"] is not None and decay_lr is not None:
                decay_coefficient = decay_lr * row["decay"]
            if effective_lr and (row["decay"] is None or decay_coefficient is not None):
                # sum((D - c B)^2) = sum(D^2) - 2c sum(D B) + c^2 sum(B^2), D = before - after, B = before: the
                # decay comes out without a second pass; the cancellation stays below float32's rounding of p
                direction_sq = value(row["update_sq"])
                if decay_coefficient:
                    c = decay_coefficient
                    direction_sq += c * (c * value(row["param_sq"]) - 2 * value(row["cross"]))
                record["direction_rms"] = math.sqrt(max(direction_sq, 0.0) / numel) / abs(effective_lr)
            record.update(_hyper(name, group))
            if "adam_u_sq" in row:
                record["adam_u_rms"] = rms(row["adam_u_sq"], numel)
                record["eps_dominated_frac"] = value(row["eps_count"]) / numel
            if row["decay"] is not None:
                record["decay_rms"] = None if decay_coefficient is None else decay_coefficient * param_rms
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
    # Lightning's LightningOptimizer and accelerate's AcceleratedOptimizer keep the real optimizer in .optimizer
    for _ in range(8):
        inner = getattr(optimizer, "optimizer", None)
        if inner is None or not hasattr(inner, "param_groups"):
            break
        optimizer = inner
    return optimizer


def _decoupled_weight_decay(optimizer, group):
    """The weight decay the optimizer applies as p *= 1 - lr * wd, outside its direction; None where decay
    (if any) is added to the gradient instead."""
    wd = group.get("weight_decay")
    wd = float(wd) if isinstance(wd, (int, float)) and not isinstance(wd, bool) else 0.0
    name = type(optimizer).__name__.lower()
    for key in ("decoupled_weight_decay", "decoupled_decay"):  # torch >= 2.2 Adam/NAdam/RAdam; timm LAMB
        if key in group:
            return wd if group[key] else None
    if getattr(optimizer, "adam_w_mode", None) is not None:  # apex / DeepSpeed FusedAdam
        return wd if optimizer.adam_w_mode else None
    bnb_adam = type(optimizer).__module__.startswith("bitsandbytes") and ("adam" in name or "ademamix" in name)
    if not (bnb_adam or any(word in name for word in ("adamw", "lion", "adafactor", "muon"))):  # bnb Adam = AdamW
        return None
    if getattr(optimizer, "decoupled_wd", False) and getattr(optimizer, "_init_lr", None):
        wd /= optimizer._init_lr  # lion-pytorch's decoupled_weight_decay=True: wd is relative to the initial lr
    return wd


def _adafactor_lrs(group, lr, t, param_rms):
    """Adafactor's (effective lr of the direction, lr of the decay) at step t; (None, None) when unknown."""
    if t is None:
        return None, None
    if "beta2_decay" in group:  # torch.optim.Adafactor: min(lr, 1/sqrt(t)) * max(eps2, RMS(param)); decay by lr
        eps = group.get("eps")
        eps2 = float(eps[1]) if isinstance(eps, (tuple, list)) and len(eps) == 2 else 1e-3
        return None if lr is None else min(lr, 1 / t ** 0.5) * max(eps2, param_rms), lr
    relative = lr  # transformers' Adafactor: its _get_lr from the step's state (step, RMS of the param before)
    if group.get("relative_step"):
        relative = min(1e-6 * t if group.get("warmup_init") else 1e-2, 1.0 / math.sqrt(t))
    if relative is None:
        return None, None
    scale = 1.0
    if group.get("scale_parameter"):
        eps = group.get("eps")
        scale = max(float(eps[1]) if isinstance(eps, (tuple, list)) and len(eps) == 2 else 1e-3, param_rms)
    return scale * relative, scale * relative


def _hyper(name, group):
    """The optimizer's class name and the hyper-parameters of this parameter's group (plain numbers only)."""
    hyper = {"optimizer": name}
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

    def sum_of_squares(self, tensor):
        """sum(x**2) in float64."""
        flat = tensor.reshape(-1)
        total = None
        for a, b in self._chunks(flat.numel()):
            buf, _, _ = self._buffers(flat.device, b - a)
            buf.copy_(flat[a:b])
            part = torch.dot(buf, buf)
            total = part if total is None else total + part
        return total

    def update_sums(self, before, after, cross=False):
        """sum(D**2) for D = before - after (exact float64 differences of the stored values), and with cross=True
        also sum(D * before), from which the direction without a decoupled decay follows."""
        flat, other = before.reshape(-1), after.reshape(-1)
        total = dot = None
        for a, b in self._chunks(flat.numel()):
            buf, buf2, _ = self._buffers(flat.device, b - a)
            buf.copy_(flat[a:b]).sub_(buf2.copy_(other[a:b]))
            part = torch.dot(buf, buf)
            total = part if total is None else total + part
            if cross:
                part = torch.dot(buf, buf2.copy_(flat[a:b]))
                dot = part if dot is None else dot + part
        return total, dot

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
