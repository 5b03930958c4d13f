"""Train a tiny model with an Optimizer Lens logging snippet and write the ground truth next to it.

    /usr/bin/python3 test/python/train_tiny.py --optimizer adam --variant plain \
        --log /tmp/lens.jsonl --truth /tmp/truth.json [--steps 30] [--every 5] [--snippet paste.py]

--snippet FILE       the composed paste (the exact text Insert Logging Snippet inserts), loaded with nothing
                     of ours importable; without it, the variant's snippets/*.py adapter is imported with
                     snippets/ on sys.path (it imports optimizer_lens_core.py)
--variant plain      snippets/optimizer_lens_plain_loop.py, before_step()/after_step() by hand
--variant attach     the same with attach() (torch >= 2.0 optimizer step hooks)
--variant hf         snippets/optimizer_lens_hf_callback.py driven the way transformers' Trainer calls
                     its callbacks (a minimal TrainerCallback stand-in when transformers is absent) with
                     the optimizer wrapped like accelerate's AcceleratedOptimizer
--variant hf-old     the same as a transformers < 4.45 Trainer calls it (no optimizer-step events)
--variant lightning  snippets/optimizer_lens_lightning_callback.py driven the way Lightning calls its
                     callbacks, with gradient accumulation over 2 batches (stand-in Callback when absent)
--optimizer          torch's adam, adamw, sgd (momentum), rmsprop (momentum, centered, coupled decay), or
                     lion / adafactor: reference implementations below (lion-pytorch's and transformers'
                     update rules and state keys; neither library is installable here)

The ground truth is computed independently of the snippet at every step, from float64 copies of
param before/after, grad and the optimizer state, with the definitions of test/fixtures/README.md:
u = m_hat / (sqrt(v_hat) + eps), m_hat = exp_avg / (1 - beta1**t), v_hat = exp_avg_sq / (1 - beta2**t);
the direction d = (before - after - decoupled decay) / lr with the decay each optimizer here applies, and,
to check that definition, the direction the optimizer itself used (u, the momentum buffer, Lion's sign,
Adafactor's clipped update) at float32 precision.
"""
import argparse
import importlib.util
import json
import math
import os
import sys
import time
import types

import torch
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SNIPPETS = os.path.join(REPO, "snippets")
VOCAB, USED_IDS = 24, 16  # ids 16..23 never occur: their embedding rows get exactly zero gradients


class Tiny(nn.Module):
    def __init__(self, width=32, hidden=32):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, width)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.gain = nn.Parameter(torch.ones(hidden))
        self.head = nn.Linear(hidden, VOCAB, bias=False)
        self.unused = nn.Parameter(torch.zeros(3))  # in the optimizer, never gets a gradient
        self.frozen = nn.Parameter(torch.randn(4), requires_grad=False)
        nn.init.zeros_(self.fc1.bias)  # param_rms = 0 at step 1: rel_step undefined (null)

    def forward(self, ids):
        x = self.embed(ids)
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x)) * self.gain + x
        return self.head(x)


class Wrapped(nn.Module):
    """Like a LightningModule holding the network as `self.model` (names get a 'model.' prefix)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        return self.model(ids)


def batch_for(step, batch_size=32):
    g = torch.Generator().manual_seed(1000 + step)
    ids = torch.randint(0, USED_IDS, (batch_size,), generator=g)
    return ids, (3 * ids + 1) % USED_IDS


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023) with lion-pytorch's state ('exp_avg' only) and group keys (lr, betas,
    weight_decay): decoupled decay p *= 1 - lr*wd first, then p -= lr * sign(b1*m + (1-b1)*g), then
    m = b2*m + (1-b2)*g. Records the sign it applied (the direction) for the ground truth."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))
        self.applied = {}

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                p.mul_(1 - group["lr"] * group["weight_decay"])
                direction = (m * beta1 + p.grad * (1 - beta1)).sign()
                p.add_(direction, alpha=-group["lr"])
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)
                self.applied[p] = (direction.double(), group["lr"])


class Adafactor(torch.optim.Optimizer):
    """Adafactor (Shazeer & Stern 2018) as transformers implements it, with its group keys and state keys
    (step, RMS, exp_avg_sq_row/col or exp_avg_sq); beta1=None. The lr of a step comes from the step count
    and the parameter's RMS (relative_step, scale_parameter) as a float32 tensor, like transformers'; the
    update is g / sqrt(V_hat) clipped to RMS <= clip_threshold, times that lr; decoupled decay uses it too.
    Records the clipped update (the direction) and the lr it applied for the ground truth."""

    def __init__(self, params, lr=None, eps=(1e-30, 1e-3), clip_threshold=1.0, decay_rate=-0.8, beta1=None,
                 weight_decay=0.0, scale_parameter=True, relative_step=True, warmup_init=False):
        super().__init__(params, dict(lr=lr, eps=eps, clip_threshold=clip_threshold, decay_rate=decay_rate,
                                      beta1=beta1, weight_decay=weight_decay, scale_parameter=scale_parameter,
                                      relative_step=relative_step, warmup_init=warmup_init))
        self.applied = {}

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                factored = g.dim() >= 2
                if not state:
                    state["step"], state["RMS"] = 0, 0
                    if factored:
                        state["exp_avg_sq_row"] = torch.zeros(g.shape[:-1])
                        state["exp_avg_sq_col"] = torch.zeros(g.shape[:-2] + g.shape[-1:])
                    else:
                        state["exp_avg_sq"] = torch.zeros_like(g)
                state["step"] += 1
                t = state["step"]
                state["RMS"] = p.norm(2) / p.numel() ** 0.5
                rel = group["lr"]
                if group["relative_step"]:
                    rel = min(1e-6 * t if group["warmup_init"] else 1e-2, 1.0 / math.sqrt(t))
                lr = (max(eps2, state["RMS"]) if group["scale_parameter"] else 1.0) * rel
                lr = float(lr)  # the float32 product, as the step applies it
                weight = 1.0 - t ** group["decay_rate"]
                squared = g * g + eps1
                if factored:
                    row, col = state["exp_avg_sq_row"], state["exp_avg_sq_col"]
                    row.mul_(weight).add_(squared.mean(dim=-1), alpha=1 - weight)
                    col.mul_(weight).add_(squared.mean(dim=-2), alpha=1 - weight)
                    inv_sqrt = (row / row.mean(dim=-1, keepdim=True)).rsqrt().unsqueeze(-1) * col.unsqueeze(-2).rsqrt()
                else:
                    v = state["exp_avg_sq"]
                    v.mul_(weight).add_(squared, alpha=1 - weight)
                    inv_sqrt = v.rsqrt()
                update = g * inv_sqrt
                update.div_((update.norm(2) / update.numel() ** 0.5 / group["clip_threshold"]).clamp(min=1.0))
                self.applied[p] = (update.double(), lr)
                if group["weight_decay"]:
                    p.mul_(1 - group["weight_decay"] * lr)
                p.add_(update, alpha=-lr)


# the decay each optimizer here applies outside its direction: p *= 1 - (lr of the decay) * wd
DECOUPLED = ("adamw", "lion", "adafactor")


def make_optimizer(name, root, eps, amsgrad=False):
    trainable = [(n, p) for n, p in root.named_parameters() if p.requires_grad]
    decay = [p for n, p in trainable if n.endswith("weight")]
    no_decay = [p for n, p in trainable if not n.endswith("weight")]
    if name == "adam":
        return torch.optim.Adam([p for _, p in trainable], lr=1e-2, betas=(0.9, 0.999), eps=eps, amsgrad=amsgrad)
    if name == "adamw":
        return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                 lr=1e-2, betas=(0.8, 0.99), eps=eps)
    if name == "sgd":
        return torch.optim.SGD([p for _, p in trainable], lr=0.05, momentum=0.9)
    if name == "rmsprop":  # weight decay is added to the gradient: part of the direction
        return torch.optim.RMSprop([p for _, p in trainable], lr=1e-3, alpha=0.9, eps=1e-6, momentum=0.9,
                                   centered=True, weight_decay=0.01)
    if name == "lion":
        return Lion([{"params": decay, "weight_decay": 0.5}, {"params": no_decay, "weight_decay": 0.0}],
                    lr=2e-3, betas=(0.9, 0.99))
    if name == "adafactor":
        return Adafactor([p for _, p in trainable], weight_decay=0.05)
    raise SystemExit("unknown optimizer " + name)


def rms64(t):
    return math.sqrt(t.pow(2).mean().item()) if t.numel() else None


class GroundTruth:
    """Figures of every step, computed directly in float64 from copies of the tensors."""

    def __init__(self, root, optimizer, kind):
        self.names = {id(p): n for n, p in root.named_parameters()}
        self.optimizer = optimizer
        self.kind = kind
        self.steps = {}
        self.checks = {}
        self._before = None

    def before(self):
        self._before = []
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                lr = group["lr"]
                self._before.append((p, group, p.detach().double().clone(), p.grad.detach().double().clone(),
                                     None if lr is None else float(lr)))

    def after(self, step):
        layers = {}
        torch_form_err, other_form_err, direction_err = [], [], []
        for p, group, before, grad, lr in self._before:
            after = p.detach().double()
            update = after - before
            param_rms = rms64(before)
            update_rms = rms64(update)
            fig = {"shape": list(p.shape), "numel": p.numel(), "lr": lr, "param_rms": param_rms,
                   "grad_rms": rms64(grad), "update_rms": update_rms,
                   "rel_step": update_rms / param_rms if param_rms > 0 else None,
                   "adam_u_rms": None, "eps_dominated_frac": None}
            st = self.optimizer.state[p]
            direction_lr = lr
            own_direction = None  # what the optimizer itself moved along, from its state or its record
            if self.kind in ("lion", "adafactor"):
                own_direction, direction_lr = self.optimizer.applied.pop(p)
            if self.kind == "adafactor":
                fig["effective_lr"] = direction_lr
            if self.kind in DECOUPLED:
                c = direction_lr * group["weight_decay"]
                fig["decay_rms"] = c * param_rms
            else:
                c = 0.0
            fig["direction_rms"] = rms64((before * (1 - c) - after) / direction_lr)
            if self.kind in ("adam", "adamw"):
                t = float(st["step"])
                beta1, beta2 = group["betas"]
                eps = group["eps"]
                m_hat = st["exp_avg"].double() / (1 - beta1 ** t)
                second = st["max_exp_avg_sq"] if group.get("amsgrad") else st["exp_avg_sq"]
                v_hat = second.double() / (1 - beta2 ** t)
                u = m_hat / (v_hat.sqrt() + eps)
                own_direction = u
                fig["adam_u_rms"] = rms64(u)
                fig["eps_dominated_frac"] = (v_hat.sqrt() < eps).double().mean().item()
                if self.kind == "adam":
                    # torch's update is exactly -lr*u with eps after bias correction (up to float32
                    # rounding); eps before bias correction (sqrt(v)+eps, then lr*sqrt(bc2)/bc1) is not.
                    u_other = (st["exp_avg"].double() / (second.double().sqrt() + eps)) \
                        * (math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t))
                    scale = max(update_rms, 1e-30)
                    torch_form_err.append(rms64(update + lr * u) / scale)
                    other_form_err.append(rms64(update + lr * u_other) / scale)
            if self.kind in ("sgd", "rmsprop"):
                own_direction = st["momentum_buffer"].double()
                fig["momentum_buffer_rms"] = rms64(own_direction)
            own_rms = rms64(own_direction)
            direction_err.append(abs(fig["direction_rms"] - own_rms) / own_rms if own_rms else fig["direction_rms"])
            layers[self.names[id(p)]] = fig
        self.steps[step] = layers
        self.checks[step] = {"direction_vs_optimizer_max_rel_err": max(direction_err)}
        if torch_form_err:
            self.checks[step].update({"torch_form_max_rel_err": max(torch_form_err),
                                      "eps_before_bias_correction_min_rel_err": min(other_form_err)})
        self._before = None


def load_snippet(variant, path=None):
    if variant == "hf-old":  # a transformers before 4.45: no on_pre_optimizer_step event
        shim = types.ModuleType("transformers")

        class OldTrainerCallback:
            def on_train_begin(self, args, state, control, **kwargs): pass
            def on_step_end(self, args, state, control, **kwargs): pass
            def on_train_end(self, args, state, control, **kwargs): pass
        shim.TrainerCallback = OldTrainerCallback
        shim.__optimizer_lens_shim__ = True
        sys.modules["transformers"] = shim
        variant = "hf"
    if variant == "hf":
        try:
            import transformers  # noqa: F401
        except ImportError:
            shim = types.ModuleType("transformers")

            class TrainerCallback:  # the events of transformers >= 4.45 that the snippet uses
                def on_train_begin(self, args, state, control, **kwargs): pass
                def on_pre_optimizer_step(self, args, state, control, **kwargs): pass
                def on_optimizer_step(self, args, state, control, **kwargs): pass
                def on_step_end(self, args, state, control, **kwargs): pass
                def on_train_end(self, args, state, control, **kwargs): pass
            shim.TrainerCallback = TrainerCallback
            shim.__optimizer_lens_shim__ = True
            sys.modules["transformers"] = shim
        file = "optimizer_lens_hf_callback.py"
    elif variant == "lightning":
        try:
            import lightning.pytorch  # noqa: F401
        except ImportError:
            try:
                import pytorch_lightning  # noqa: F401
            except ImportError:
                package, sub = types.ModuleType("lightning"), types.ModuleType("lightning.pytorch")

                class Callback:
                    def on_before_optimizer_step(self, trainer, pl_module, optimizer): pass
                    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx): pass
                    def on_train_end(self, trainer, pl_module): pass
                sub.Callback = Callback
                sub.__optimizer_lens_shim__ = True
                package.pytorch = sub
                sys.modules["lightning"], sys.modules["lightning.pytorch"] = package, sub
        file = "optimizer_lens_lightning_callback.py"
    else:
        file = "optimizer_lens_plain_loop.py"
    if path is None:  # the repository's files: the adapter imports optimizer_lens_core from snippets/
        sys.path.insert(0, SNIPPETS)
        path = os.path.join(SNIPPETS, file)
    spec = importlib.util.spec_from_file_location("optimizer_lens_snippet", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    core = sys.modules.get("optimizer_lens_core")
    if path != os.path.join(SNIPPETS, file) and core is not None:
        raise SystemExit("the paste imported optimizer_lens_core: it is not self-contained")
    return module, core or module


class OptimizerWrapper:
    """Stands in for accelerate's AcceleratedOptimizer / Lightning's LightningOptimizer."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def step(self, closure=None):
        return self.optimizer.step(closure)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop", "lion", "adafactor"], default="adam")
    ap.add_argument("--snippet", help="the composed paste to load instead of the snippets/*.py modules")
    ap.add_argument("--variant", choices=["plain", "attach", "hf", "hf-old", "lightning"], default="plain")
    ap.add_argument("--log", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--eps", type=float, default=1e-4)
    ap.add_argument("--amsgrad", action="store_true", help="Adam with amsgrad=True (u uses max_exp_avg_sq)")
    ap.add_argument("--nan-grad-at", type=int, default=0, help="put a NaN into fc1.weight's gradient at this step")
    ap.add_argument("--keep-log", action="store_true", help="do not delete an existing log first")
    ap.add_argument("--append", action="store_true", help="plain variant: OptimizerLensLogger(append=True)")
    ap.add_argument("--chunk", type=int, default=0, help="the snippet's reduction chunk (elements), to test chunking")
    args = ap.parse_args()

    torch.manual_seed(8675309)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    snippet, core = load_snippet(args.variant, args.snippet)
    if args.chunk:
        core._Scratch.CHUNK = args.chunk
    if os.path.exists(args.log) and not args.keep_log:
        os.remove(args.log)

    net = Tiny()
    root = Wrapped(net) if args.variant == "lightning" else net
    optimizer = make_optimizer(args.optimizer, root, args.eps, args.amsgrad)
    if args.optimizer == "adafactor":  # relative_step: no lr to schedule, the optimizer's own lr changes
        scheduler = types.SimpleNamespace(step=lambda: None)
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1.0 / (1.0 + 0.1 * k))
    truth = GroundTruth(root, optimizer, args.optimizer)
    loss_fn = nn.CrossEntropyLoss()
    accumulate = 2 if args.variant == "lightning" else 1

    def backward(batch_index):
        ids, target = batch_for(batch_index)
        loss = loss_fn(root(ids), target) / accumulate
        loss.backward()
        if batch_index == args.nan_grad_at:
            net.fc1.weight.grad[0, 0] = float("nan")
        return loss.item()

    t0 = time.perf_counter()
    if args.variant in ("plain", "attach"):
        lens = snippet.OptimizerLensLogger(root, optimizer, args.log, every=args.every, append=args.append)
        if args.variant == "attach":
            lens.attach()
        for step in range(1, args.steps + 1):
            optimizer.zero_grad(set_to_none=True)
            backward(step)
            truth.before()
            if args.variant == "plain":
                lens.before_step()
            optimizer.step()
            if args.variant == "plain":
                lens.after_step()
            truth.after(step)
            scheduler.step()
        lens.close()
    elif args.variant in ("hf", "hf-old"):
        old_events = args.variant == "hf-old"  # the Trainer calls no optimizer-step events
        callback = snippet.OptimizerLensCallback(args.log)
        targs = types.SimpleNamespace(logging_steps=args.every)
        state = types.SimpleNamespace(global_step=0, is_world_process_zero=True)
        wrapped = OptimizerWrapper(optimizer)
        kwargs = {"model": root, "optimizer": wrapped, "lr_scheduler": scheduler}
        callback.on_train_begin(targs, state, None, **kwargs)
        for step in range(1, args.steps + 1):
            backward(step)
            truth.before()
            if not old_events:
                callback.on_pre_optimizer_step(targs, state, None, **kwargs)
            wrapped.step()
            if not old_events:
                callback.on_optimizer_step(targs, state, None, **kwargs)
            truth.after(step)
            scheduler.step()
            root.zero_grad(set_to_none=True)
            state.global_step += 1
            callback.on_step_end(targs, state, None, **kwargs)
        callback.on_train_end(targs, state, None, **kwargs)
    else:  # lightning
        callback = snippet.OptimizerLensCallback(args.log, every=args.every)
        trainer = types.SimpleNamespace(global_step=0, is_global_zero=True)
        wrapped = OptimizerWrapper(optimizer)
        batch_index = 0
        while trainer.global_step < args.steps:
            batch_index += 1
            backward(batch_index)
            if batch_index % accumulate == 0:
                step = trainer.global_step + 1
                truth.before()
                callback.on_before_optimizer_step(trainer, root, wrapped)
                wrapped.step()
                truth.after(step)
                trainer.global_step += 1
                scheduler.step()
            callback.on_train_batch_end(trainer, root, None, None, batch_index - 1)
            if batch_index % accumulate == 0:
                optimizer.zero_grad(set_to_none=True)
        callback.on_train_end(trainer, root)
    elapsed = time.perf_counter() - t0

    logged = [s for s in range(1, args.steps + 1) if s == 1 or s % args.every == 0]
    with open(args.truth, "w") as f:
        json.dump({"torch": torch.__version__, "optimizer": args.optimizer, "variant": args.variant,
                   "shim": bool(getattr(sys.modules.get("transformers") or sys.modules.get("lightning.pytorch"),
                                        "__optimizer_lens_shim__", False)),
                   "logged_steps": logged, "seconds": elapsed,
                   "steps": {str(k): v for k, v in truth.steps.items()},
                   "checks": {str(k): v for k, v in truth.checks.items()}}, f)


if __name__ == "__main__":
    main()
