#!/usr/bin/env python3
"""Optimizer fixtures: one tiny training run per optimizer, with the checkpoints each library leaves.

Every run trains the same tiny MLP (16 -> 32 -> 8, tanh, MSE against a fixed random teacher; input features
12..15 are always 0, so fc1.weight's last 4 columns never get a gradient) for 10 steps on CPU, single thread,
seed 20240601, and writes at steps 1, 2 and 10:

  tensors/step_NNNNNN.npz  param_before/<layer>, grad/<layer>, param_after/<layer> (float32), step (int64)
  state/step_NNNNNN.npz    the optimizer state after the step by role (<role>/<layer>, float32; bitsandbytes'
                           8-bit codes are stored here as float32 values 0..255, see the README)
  ckpt/step_NNNNNN.pt      torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                           'step': N}) -- the optimizer's state_dict exactly as the library saves it
  expected.json            ground truth per step and layer, computed in float64 (numpy) from the saved float32
                           tensors by an implementation of each update rule written from its source or paper

Optimizers that torch 1.13 has are torch's own classes (torch.optim.Adam, AdamW, NAdam, RAdam, Adamax, Adagrad,
RMSprop, SGD). The others are reference implementations in this file, written from the papers as the named
library implements them, saving the state and group keys that library saves:
  Lion (Chen et al. 2023; lion-pytorch), Adafactor (Shazeer & Stern 2018; transformers' Adafactor, and
  torch.optim.Adafactor of torch >= 2.5), LAMB (You et al. 2019; timm's Lamb), LARS (timm's Lars), Muon (Keller
  Jordan's SingleDeviceMuonWithAuxAdam, and torch.optim.Muon of torch >= 2.9), bitsandbytes' 8-bit AdamW
  (blockwise dynamic quantization as bitsandbytes does it: create_dynamic_map, blocks of 256, decay after the step
  as its CUDA kernel applies it).

Usage:  /usr/bin/python3 test/python/make_optimizer_fixtures.py [--out test/fixtures]
Needs torch (1.13 was used) and numpy. Rewrites only the optim_* folders and OPTIMIZERS.md below --out.
"""
import argparse
import io
import json
import math
import os
import shutil
import zipfile

import numpy as np
import torch
import torch.nn as nn

SEED = 20240601
STEPS = 10
DUMP_STEPS = (1, 2, 10)
D_IN, D_HID, D_OUT, DEAD = 16, 32, 8, 4
BATCH = 32
LAYERS = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


# ----------------------------------------------------------------------------------------------------------------
# Model and data
# ----------------------------------------------------------------------------------------------------------------
class MLP(nn.Module):
    def __init__(self, d_in=D_IN, d_hid=D_HID, d_out=D_OUT):
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hid)
        self.fc2 = nn.Linear(d_hid, d_out)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def batches(d_in, d_out, steps):
    g = torch.Generator().manual_seed(SEED + 1)
    teacher = torch.randn(d_out, d_in, generator=g) / math.sqrt(d_in)
    out = []
    for _ in range(steps):
        x = torch.randn(BATCH, d_in, generator=g)
        x[:, d_in - DEAD:] = 0.0
        y = torch.tanh(x @ teacher.T)
        out.append((x, y))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Reference implementations (state and group keys as each library saves them)
# ----------------------------------------------------------------------------------------------------------------
class Lion(torch.optim.Optimizer):
    """lion-pytorch's Lion: p *= 1 - lr*wd; p -= lr*sign(b1*m + (1-b1)*g); m = b2*m + (1-b2)*g."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))
        self.previous = {}

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, wd, (b1, b2) = group["lr"], group["weight_decay"], group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                self.previous[p] = m.clone()
                p.mul_(1.0 - lr * wd)
                update = m.clone().mul_(b1).add(p.grad, alpha=1.0 - b1).sign_()
                p.add_(update, alpha=-lr)
                m.mul_(b2).add_(p.grad, alpha=1.0 - b2)


class HFAdafactor(torch.optim.Optimizer):
    """transformers.optimization.Adafactor (same defaults, state keys step/RMS/exp_avg_sq_row/col/exp_avg_sq/exp_avg)."""

    def __init__(self, params, lr=None, eps=(1e-30, 1e-3), clip_threshold=1.0, decay_rate=-0.8, beta1=None,
                 weight_decay=0.0, scale_parameter=True, relative_step=True, warmup_init=False):
        super().__init__(params, dict(lr=lr, eps=eps, clip_threshold=clip_threshold, decay_rate=decay_rate,
                                      beta1=beta1, weight_decay=weight_decay, scale_parameter=scale_parameter,
                                      relative_step=relative_step, warmup_init=warmup_init))
        self.applied = {}

    @staticmethod
    def _rms(t):
        return t.norm(2) / (t.numel() ** 0.5)

    @staticmethod
    def _get_lr(group, state):
        rel = group["lr"]
        if group["relative_step"]:
            min_step = 1e-6 * state["step"] if group["warmup_init"] else 1e-2
            rel = min(min_step, 1.0 / math.sqrt(state["step"]))
        scale = 1.0
        if group["scale_parameter"]:
            scale = max(group["eps"][1], state["RMS"])
        return scale * rel

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                factored = grad.dim() >= 2
                if len(state) == 0:
                    state["step"] = 0
                    if group["beta1"] is not None:
                        state["exp_avg"] = torch.zeros_like(grad)
                    if factored:
                        state["exp_avg_sq_row"] = torch.zeros(grad.shape[:-1])
                        state["exp_avg_sq_col"] = torch.zeros(grad.shape[:-2] + grad.shape[-1:])
                    else:
                        state["exp_avg_sq"] = torch.zeros_like(grad)
                    state["RMS"] = 0
                state["step"] += 1
                state["RMS"] = self._rms(p)
                lr = self._get_lr(group, state)
                beta2t = 1.0 - math.pow(state["step"], group["decay_rate"])
                update = grad ** 2 + group["eps"][0]
                if factored:
                    row, col = state["exp_avg_sq_row"], state["exp_avg_sq_col"]
                    row.mul_(beta2t).add_(update.mean(dim=-1), alpha=1.0 - beta2t)
                    col.mul_(beta2t).add_(update.mean(dim=-2), alpha=1.0 - beta2t)
                    r = (row / row.mean(dim=-1, keepdim=True)).rsqrt_().unsqueeze(-1)
                    c = col.unsqueeze(-2).rsqrt()
                    update = torch.mul(r, c).mul_(grad)
                else:
                    v = state["exp_avg_sq"]
                    v.mul_(beta2t).add_(update, alpha=1.0 - beta2t)
                    update = v.rsqrt().mul_(grad)
                clip = (self._rms(update) / group["clip_threshold"]).clamp_(min=1.0)
                update.div_(clip)
                update.mul_(lr)
                if group["beta1"] is not None:
                    m = state["exp_avg"]
                    m.mul_(group["beta1"]).add_(update, alpha=1 - group["beta1"])
                    update = m
                self.applied[p] = dict(lr_t=float(lr), clip=float(clip))
                if group["weight_decay"] != 0:
                    p.add_(p, alpha=-group["weight_decay"] * lr)
                p.add_(-update)


class TorchAdafactor(torch.optim.Optimizer):
    """torch.optim.Adafactor (torch >= 2.5): state step/row_var/col_var/variance; groups lr, beta2_decay, eps, d, ..."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, foreach=None,
                 maximize=False):
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))
        self.applied = {}

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad if not group["maximize"] else -p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = torch.tensor(0.0)
                    if grad.dim() > 1:
                        rs = list(grad.shape)
                        rs[-1] = 1
                        cs = list(grad.shape)
                        cs[-2] = 1
                        state["row_var"] = grad.new_zeros(rs)
                        state["col_var"] = grad.new_zeros(cs)
                    else:
                        state["variance"] = torch.zeros_like(grad)
                e1 = torch.finfo(p.dtype).eps if eps1 is None else eps1
                state["step"] += 1
                t = state["step"].item()
                w = t ** group["beta2_decay"]
                rho = min(group["lr"], 1 / (t ** 0.5))
                alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho
                if group["weight_decay"] != 0:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                if grad.dim() > 1:
                    row_mean = torch.linalg.vector_norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1))
                    state["row_var"].lerp_(row_mean, w)
                    col_mean = torch.linalg.vector_norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2))
                    state["col_var"].lerp_(col_mean, w)
                    var = state["row_var"] @ state["col_var"]
                    var.div_(state["row_var"].mean(dim=-2, keepdim=True).clamp_(min=e1))
                else:
                    state["variance"].lerp_(grad * grad, w)
                    var = state["variance"].clone()
                update = var.clamp_(min=e1 * e1).rsqrt_()
                update.mul_(grad)
                denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * group["d"]))
                self.applied[p] = dict(lr_t=float(alpha), clip=float(denom))
                p.add_(update, alpha=-alpha / denom)


class Lamb(torch.optim.Optimizer):
    """timm.optim.Lamb (group step; exp_avg/exp_avg_sq; trust ratio ||w||/||u||; global grad-norm clipping)."""

    def __init__(self, params, lr=1e-3, bias_correction=True, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01,
                 grad_averaging=True, max_grad_norm=1.0, trust_clip=False, always_adapt=False, caution=False,
                 decoupled_decay=False, corrected_weight_decay=False):
        super().__init__(params, dict(lr=lr, bias_correction=bias_correction, betas=betas, eps=eps,
                                      weight_decay=weight_decay, grad_averaging=grad_averaging,
                                      max_grad_norm=max_grad_norm, trust_clip=trust_clip, always_adapt=always_adapt,
                                      caution=caution, decoupled_decay=decoupled_decay,
                                      corrected_weight_decay=corrected_weight_decay))
        self.applied = {}

    @torch.no_grad()
    def step(self):
        norms = [p.grad.norm(2.0) for g in self.param_groups for p in g["params"] if p.grad is not None]
        total = torch.linalg.vector_norm(torch.stack(norms))
        mgn = self.defaults["max_grad_norm"]
        clip = torch.clamp(total / mgn, min=1.0) if mgn is not None else None
        for group in self.param_groups:
            b1, b2 = group["betas"]
            beta3 = 1 - b1 if group["grad_averaging"] else 1.0
            if "step" not in group:
                group["step"] = torch.tensor(0.0)
            group["step"].add_(1)
            step = group["step"].item()
            bc1, bc2 = (1 - b1 ** step, 1 - b2 ** step) if group["bias_correction"] else (1.0, 1.0)
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if clip is not None:
                    grad.div_(clip)
                state = self.state[p]
                if len(state) == 0:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(b1).add_(grad, alpha=beta3)
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                denom = (v.sqrt() / (bc2 ** 0.5)).add_(group["eps"])
                update = (m / bc1).div_(denom)
                wd = group["weight_decay"]
                if wd != 0:
                    if group["decoupled_decay"]:
                        p.add_(p, alpha=-group["lr"] * wd)
                    else:
                        update.add_(p, alpha=wd)
                ratio = None
                if wd != 0 or group["always_adapt"]:
                    w_norm, g_norm = p.norm(2.0), update.norm(2.0)
                    ratio = torch.where(w_norm > 0, torch.where(g_norm > 0, w_norm / g_norm, 1.0), 1.0)
                    if group["trust_clip"]:
                        ratio = torch.clamp(ratio, max=1.0)
                    update.mul_(ratio)
                self.applied[p] = dict(trust_ratio=None if ratio is None else float(ratio))
                p.add_(update, alpha=-group["lr"])


class Lars(torch.optim.Optimizer):
    """timm.optim.Lars: trust ratio trust_coeff*||w||/(||g|| + wd*||w|| + eps) on g + wd*w, then SGD momentum."""

    def __init__(self, params, lr=1.0, momentum=0, dampening=0, weight_decay=0, nesterov=False, trust_coeff=0.001,
                 eps=1e-8, trust_clip=False, always_adapt=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, trust_coeff=trust_coeff, eps=eps, trust_clip=trust_clip,
                                      always_adapt=always_adapt))
        self.applied = {}

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            wd, mom, damp = group["weight_decay"], group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                ratio = None
                if wd != 0 or group["always_adapt"]:
                    w_norm, g_norm = p.norm(2.0), grad.norm(2.0)
                    ratio = group["trust_coeff"] * w_norm / (g_norm + w_norm * wd + group["eps"])
                    ratio = torch.where(w_norm > 0, torch.where(g_norm > 0, ratio, 1.0), 1.0)
                    if group["trust_clip"]:
                        ratio = torch.clamp(ratio / group["lr"], max=1.0)
                    grad.add_(p, alpha=wd)
                    grad.mul_(ratio)
                if mom != 0:
                    st = self.state[p]
                    if "momentum_buffer" not in st:
                        buf = st["momentum_buffer"] = torch.clone(grad).detach()
                    else:
                        buf = st["momentum_buffer"]
                        buf.mul_(mom).add_(grad, alpha=1.0 - damp)
                    grad = grad.add(buf, alpha=mom) if group["nesterov"] else buf
                self.applied[p] = dict(trust_ratio=None if ratio is None else float(ratio))
                p.add_(grad, alpha=-group["lr"])


def newton_schulz(G, steps, coeffs, eps, mode, dtype):
    """Keller Jordan's quintic Newton-Schulz iteration, in `dtype` (bfloat16 in his code, float64 here by default)."""
    a, b, c = coeffs
    X = G.to(dtype)
    tall = G.size(0) > G.size(1)
    if tall:
        X = X.T
    norm = X.norm()
    X = X / (norm + eps) if mode == "add" else X / norm.clamp(min=eps)
    for _ in range(steps):
        A = X @ X.T
        B = b * A + c * A @ A
        X = a * X + B @ X
    if tall:
        X = X.T
    return X


class MuonWithAuxAdam(torch.optim.Optimizer):
    """Keller Jordan's SingleDeviceMuonWithAuxAdam (group keys exactly his), Newton-Schulz in `ns_dtype`."""

    def __init__(self, param_groups, ns_dtype=torch.float64):
        super().__init__(param_groups, dict())
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if group["use_muon"]:
                    if len(state) == 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    beta = group["momentum"]
                    buf = state["momentum_buffer"]
                    buf.lerp_(p.grad, 1 - beta)
                    upd = p.grad.lerp(buf, beta)
                    o = newton_schulz(upd, 5, (3.4445, -4.7750, 2.0315), 1e-7, "add", self.ns_dtype)
                    o = (o * max(1, p.size(-2) / p.size(-1)) ** 0.5).to(p.dtype)
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    p.add_(o, alpha=-group["lr"])
                else:
                    if len(state) == 0:
                        state["exp_avg"] = torch.zeros_like(p)
                        state["exp_avg_sq"] = torch.zeros_like(p)
                        state["step"] = 0
                    state["step"] += 1
                    b1, b2 = group["betas"]
                    m, v = state["exp_avg"], state["exp_avg_sq"]
                    m.lerp_(p.grad, 1 - b1)
                    v.lerp_(p.grad.square(), 1 - b2)
                    u = (m / (1 - b1 ** state["step"])) / ((v / (1 - b2 ** state["step"])).sqrt() + group["eps"])
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    p.add_(u, alpha=-group["lr"])


class TorchMuon(torch.optim.Optimizer):
    """torch.optim.Muon (torch >= 2.9) group keys; 2-D parameters only; Newton-Schulz in float64 here."""

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None, use_addmm=False):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn, use_addmm=use_addmm))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                buf = state["momentum_buffer"]
                buf.lerp_(p.grad, 1 - group["momentum"])
                upd = p.grad.lerp(buf, group["momentum"]) if group["nesterov"] else buf
                o = newton_schulz(upd, group["ns_steps"], group["ns_coefficients"], group["eps"], "clamp", torch.float64)
                A, B = p.shape[:2]
                ratio = 0.2 * math.sqrt(max(A, B)) if group["adjust_lr_fn"] == "match_rms_adamw" else math.sqrt(max(1, A / B))
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(o.to(p.dtype), alpha=-group["lr"] * ratio)


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    """bitsandbytes.functional.create_dynamic_map, re-implemented from its description (256 sorted float32)."""
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    data += [0] * (256 - len(data))
    data.sort()
    return torch.tensor(data, dtype=torch.float32)


class AdamW8bit(torch.optim.Optimizer):
    """bitsandbytes' AdamW8bit (blockwise, blocks of 256): state step/state1/state2/absmax1/absmax2/qmap1/qmap2;
    parameters under 4096 elements keep float32 state1/state2. The step uses the float32 moments of this step;
    the saved codes are those moments quantized afterwards. Decay after the step (CUDA order)."""

    BLOCK = 256
    MIN_8BIT = 4096

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, alpha=0.0, t_alpha=None,
                                      t_beta3=None))
        self.fp32 = {}

    def _quantize(self, x, qmap):
        flat = x.reshape(-1)
        n = flat.numel()
        blocks = (n + self.BLOCK - 1) // self.BLOCK
        pad = torch.zeros(blocks * self.BLOCK)
        pad[:n] = flat
        absmax = pad.view(blocks, self.BLOCK).abs().amax(dim=1)
        scaled = (pad.view(blocks, self.BLOCK) / absmax.clamp(min=1e-30)[:, None]).reshape(-1)[:n]
        codes = torch.argmin((scaled[:, None] - qmap[None, :]).abs(), dim=1).to(torch.uint8)
        return codes.view(x.shape), absmax

    def _dequantize(self, codes, absmax, qmap):
        flat = qmap[codes.reshape(-1).long()]
        idx = torch.arange(flat.numel()) // self.BLOCK
        return (flat * absmax[idx]).view(codes.shape)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                st = self.state[p]
                eightbit = p.numel() >= self.MIN_8BIT
                if len(st) == 0:
                    st["step"] = 0
                    if eightbit:
                        st["qmap1"] = create_dynamic_map(signed=True)
                        st["qmap2"] = create_dynamic_map(signed=False)
                        blocks = (p.numel() + self.BLOCK - 1) // self.BLOCK
                        st["state1"] = torch.full(p.shape, 127, dtype=torch.uint8)  # the code of 0.0
                        st["state2"] = torch.zeros(p.shape, dtype=torch.uint8)
                        st["absmax1"] = torch.zeros(blocks)
                        st["absmax2"] = torch.zeros(blocks)
                    else:
                        st["state1"] = torch.zeros_like(p)
                        st["state2"] = torch.zeros_like(p)
                st["step"] += 1
                t = st["step"]
                g = p.grad
                if eightbit:
                    s1 = self._dequantize(st["state1"], st["absmax1"], st["qmap1"])
                    s2 = self._dequantize(st["state2"], st["absmax2"], st["qmap2"])
                else:
                    s1, s2 = st["state1"], st["state2"]
                s1 = s1 * b1 + (1 - b1) * g
                s2 = s2 * b2 + (1 - b2) * g * g
                self.fp32[p] = (s1.clone(), s2.clone())
                c1 = 1 - b1 ** t
                c2 = math.sqrt(1 - b2 ** t)
                step_size = -group["lr"] * c2 / c1
                p.add_(step_size * (s1 / (s2.sqrt() + c2 * group["eps"])))
                if group["weight_decay"] > 0:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                if eightbit:
                    st["state1"], st["absmax1"] = self._quantize(s1, st["qmap1"])
                    st["state2"], st["absmax2"] = self._quantize(s2, st["qmap2"])
                else:
                    st["state1"].copy_(s1)
                    st["state2"].copy_(s2)


# ----------------------------------------------------------------------------------------------------------------
# Ground truth: the direction d in float64 from the saved state (and the gradient where the rule needs it)
# ----------------------------------------------------------------------------------------------------------------
def f64(t):
    return t.detach().double().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float64)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def adam_u(m, v, t, b1, b2, eps):
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    root = np.sqrt(v / bc2)
    return (m / bc1) / (root + eps), root


def ns_numpy(G, steps, coeffs, eps, mode):
    a, b, c = coeffs
    X = G.copy()
    tall = X.shape[0] > X.shape[1]
    if tall:
        X = X.T.copy()
    n = np.sqrt(np.sum(X * X))
    X = X / (n + eps) if mode == "add" else X / max(n, eps)
    for _ in range(steps):
        A = X @ X.T
        B = b * A + c * (A @ A)
        X = a * X + B @ X
    return X.T.copy() if tall else X


def truth(kind, ctx):
    """Returns dict(d, lr, decay, extra): d in float64, the lr applied to it, the decay mode's coefficient."""
    g, p, st, grp, t = ctx["grad"], ctx["p_before"], ctx["state"], ctx["group"], ctx["t"]
    wd = grp.get("weight_decay", 0.0) or 0.0
    lr = grp.get("lr")
    extra = {}
    if kind in ("adam", "adamw", "amsgrad", "muon_aux"):
        b1, b2 = grp["betas"]
        V = st["max_exp_avg_sq"] if kind == "amsgrad" else st["exp_avg_sq"]
        d, root = adam_u(st["exp_avg"], V, t, b1, b2, grp["eps"])
        extra.update(adam_u_rms=rms(d), zero_v_frac=float(np.mean(V == 0)),
                     eps_dominated_frac=float(np.mean((V != 0) & (root < grp["eps"]))), sqrt_v_hat_rms=rms(root))
        return dict(d=d, lr=lr, decay="coupled" if kind == "adam" else "decoupled", extra=extra)
    if kind in ("nadam", "nadam_foreach"):
        b1, b2 = grp["betas"]
        psi = grp["momentum_decay"]
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        P = float(ctx["layer_state"]["mu_product"])
        ge = g + wd * p
        den = np.sqrt(st["exp_avg_sq"] / (1 - b2 ** t)) + grp["eps"]
        c = mu1 / (1 - P * mu * mu1) if kind == "nadam" else mu1 / (1 - P * mu1)
        d = (1 - mu) / (1 - P) * ge / den + c * st["exp_avg"] / den
        return dict(d=d, lr=lr, decay="coupled", extra=extra)
    if kind == "radam":
        b1, b2 = grp["betas"]
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        rho_inf = 2 / (1 - b2) - 1
        rho = rho_inf - 2 * t * b2 ** t / bc2
        mhat = st["exp_avg"] / bc1
        if rho > 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            d = mhat * r * math.sqrt(bc2) / (np.sqrt(st["exp_avg_sq"]) + grp["eps"])
        else:
            d = mhat
        extra["rectified"] = bool(rho > 5)
        return dict(d=d, lr=lr, decay="coupled", extra=extra)
    if kind == "adamax":
        b1 = grp["betas"][0]
        d = st["exp_avg"] / ((1 - b1 ** t) * st["exp_inf"])
        return dict(d=d, lr=lr, decay="coupled", extra=extra)
    if kind == "adagrad":
        clr = lr / (1 + (t - 1) * grp["lr_decay"])
        d = (g + wd * p) / (np.sqrt(st["sum"]) + grp["eps"])
        extra["effective_lr"] = clr
        return dict(d=d, lr=clr, decay="coupled", extra=extra)
    if kind in ("rmsprop", "rmsprop_centered"):
        sq = st["square_avg"] - (st["grad_avg"] ** 2 if grp["centered"] else 0)
        avg = np.sqrt(sq) + grp["eps"]
        d = st["momentum_buffer"] if grp["momentum"] > 0 else (g + wd * p) / avg
        return dict(d=d, lr=lr, decay="coupled", extra=extra)
    if kind == "sgd_nesterov":
        d = g + wd * p + grp["momentum"] * st["momentum_buffer"]
        return dict(d=d, lr=lr, decay="coupled", extra=extra)
    if kind == "lion":
        b1, b2 = grp["betas"]
        prev = f64(ctx["previous"])
        c = b1 * prev + (1 - b1) * g
        return dict(d=np.sign(c), lr=lr, decay="decoupled", extra=extra)
    if kind in ("adafactor_hf", "adafactor_hf_beta1"):
        lr_t = ctx["applied"]["lr_t"]
        extra["effective_lr"] = lr_t
        if grp["beta1"] is not None:
            return dict(d=st["exp_avg"] / lr_t, lr=lr_t, decay="decoupled_lr_t", extra=extra)
        if p.ndim >= 2:
            row, col = st["exp_avg_sq_row"], st["exp_avg_sq_col"]
            U = g / np.sqrt(row / row.mean(axis=-1, keepdims=True))[..., :, None] / np.sqrt(col)[..., None, :]
        else:
            U = g / np.sqrt(st["exp_avg_sq"])
        clip = max(1.0, rms(U) / grp["clip_threshold"])
        extra["update_clip"] = clip
        return dict(d=U / clip, lr=lr_t, decay="decoupled_lr_t", extra=extra)
    if kind == "adafactor_torch":
        eps1 = grp["eps"][0] if grp["eps"][0] is not None else float(np.finfo(np.float32).eps)
        if p.ndim >= 2:
            row, col = st["row_var"], st["col_var"]
            V = (row @ col) / max(float(row.mean(axis=-2)), eps1)
        else:
            V = st["variance"]
        U = g / np.sqrt(np.maximum(V, eps1 * eps1))
        clip = max(1.0, rms(U) / grp["d"])
        alpha = max(grp["eps"][1], rms(p)) * min(lr, 1 / math.sqrt(t))
        extra.update(update_clip=clip, effective_lr=alpha)
        return dict(d=U / clip, lr=alpha, decay="decoupled", extra=extra)
    if kind == "lamb":
        b1, b2 = grp["betas"]
        step = float(grp["step"])
        bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
        u = (st["exp_avg"] / bc1) / (np.sqrt(st["exp_avg_sq"]) / math.sqrt(bc2) + grp["eps"])
        if wd != 0:
            u = u + wd * p
        if wd != 0 or grp["always_adapt"]:
            wn, un = np.linalg.norm(p), np.linalg.norm(u)
            r = wn / un if wn > 0 and un > 0 else 1.0
            if grp["trust_clip"]:
                r = min(r, 1.0)
            extra["trust_ratio"] = r
            u = u * r
        V = st["exp_avg_sq"]
        extra["zero_v_frac"] = float(np.mean(V == 0))
        return dict(d=u, lr=lr, decay="coupled", extra=extra)
    if kind == "lars":
        wn, gn = np.linalg.norm(p), np.linalg.norm(g)
        r = grp["trust_coeff"] * wn / (gn + wn * wd + grp["eps"]) if wn > 0 and gn > 0 else 1.0
        extra["trust_ratio"] = r
        return dict(d=st["momentum_buffer"], lr=lr, decay="coupled", extra=extra)
    if kind in ("muon", "muon_bf16", "muon_torch"):
        beta = grp["momentum"]
        inp = (1 - beta) * g + beta * st["momentum_buffer"]
        coeffs = tuple(grp.get("ns_coefficients", (3.4445, -4.7750, 2.0315)))
        mode = "clamp" if kind == "muon_torch" else "add"
        O = ns_numpy(inp, grp.get("ns_steps", 5), coeffs, grp.get("eps", 1e-7) if kind == "muon_torch" else 1e-7, mode)
        A, B = p.shape
        scale = 0.2 * math.sqrt(max(A, B)) if grp.get("adjust_lr_fn") == "match_rms_adamw" else math.sqrt(max(1, A / B))
        return dict(d=O * scale, lr=lr, decay="decoupled", extra=extra)
    if kind == "adamw8bit":
        b1, b2 = grp["betas"]
        if "qmap1" in st:
            blk = np.arange(p.size) // 256
            m = (st["qmap1"][st["state1"].reshape(-1).astype(np.int64)] * st["absmax1"][blk]).reshape(p.shape)
            v = (st["qmap2"][st["state2"].reshape(-1).astype(np.int64)] * st["absmax2"][blk]).reshape(p.shape)
        else:
            m, v = st["state1"], st["state2"]
        d, root = adam_u(m, v, t, b1, b2, grp["eps"])
        s1, s2 = ctx["fp32"]
        d_used, _ = adam_u(f64(s1), f64(s2), t, b1, b2, grp["eps"])
        undetermined = (v == 0) & (m != 0)  # v quantized to its zero code, m not: d is not determined by the state
        d = np.where(undetermined, 0.0, d)
        extra["undetermined"] = int(undetermined.sum())
        extra.update(adam_u_rms=rms(d), zero_v_frac=float(np.mean((v == 0) & (m == 0))),
                     eps_dominated_frac=float(np.mean((v != 0) & (root < grp["eps"]))),
                     direction_rms_used=rms(d_used), d_used=d_used)
        return dict(d=d, lr=lr, decay="after", extra=extra)
    raise ValueError(kind)


def predicted_update(p, d, lr, wd, decay):
    if decay == "coupled":
        return lr * d
    if decay == "decoupled":
        return lr * d + lr * wd * p
    if decay == "decoupled_lr_t":  # transformers' Adafactor: decay with the relative step size
        return lr * d + lr * wd * p
    if decay == "after":  # (p - lr*d)(1 - lr*wd) = p - lr(1 - lr*wd) d - lr*wd*p
        return lr * (1 - lr * wd) * d + lr * wd * p
    raise ValueError(decay)


# ----------------------------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------------------------
def groups_two(model, wd):
    return [dict(params=[model.fc1.weight, model.fc2.weight], weight_decay=wd),
            dict(params=[model.fc1.bias, model.fc2.bias], weight_decay=0.0)]


RUNS = [
    # name, kind, class name, builder(model) -> optimizer, description, width
    ("adam", "adam", "torch.optim.Adam", lambda m: torch.optim.Adam(m.parameters(), lr=1e-2, weight_decay=1e-2),
     "torch.optim.Adam(lr=1e-2, weight_decay=1e-2): L2 decay inside the gradient"),
    ("adamw", "adamw", "torch.optim.AdamW", lambda m: torch.optim.AdamW(groups_two(m, 0.1), lr=1e-2),
     "torch.optim.AdamW(lr=1e-2), weight_decay 0.1 on the weights, 0 on the biases (two groups)"),
    ("amsgrad", "amsgrad", "torch.optim.AdamW", lambda m: torch.optim.AdamW(m.parameters(), lr=1e-2, betas=(0.9, 0.9), weight_decay=1e-2, amsgrad=True),
     "torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.9), weight_decay=1e-2, amsgrad=True): the update uses max_exp_avg_sq; "
     "the loss is scaled by 0.5**(t-1), so the gradients shrink and max_exp_avg_sq stays well above exp_avg_sq"),
    ("nadam", "nadam", "torch.optim.NAdam", lambda m: torch.optim.NAdam(m.parameters(), lr=1e-2, weight_decay=1e-2),
     "torch.optim.NAdam(lr=1e-2, weight_decay=1e-2), torch 1.13's default single-tensor path"),
    ("nadam_foreach", "nadam_foreach", "torch.optim.NAdam",
     lambda m: torch.optim.NAdam(m.parameters(), lr=1e-2, foreach=True),
     "torch.optim.NAdam(lr=1e-2, foreach=True): torch 1.13's foreach path (the arithmetic of torch >= 2.0)"),
    ("radam", "radam", "torch.optim.RAdam", lambda m: torch.optim.RAdam(m.parameters(), lr=1e-2),
     "torch.optim.RAdam(lr=1e-2): un-rectified (d = m_hat) until step 5, rectified from step 6"),
    ("adamax", "adamax", "torch.optim.Adamax", lambda m: torch.optim.Adamax(m.parameters(), lr=1e-2, weight_decay=1e-2),
     "torch.optim.Adamax(lr=1e-2, weight_decay=1e-2)"),
    ("adagrad", "adagrad", "torch.optim.Adagrad",
     lambda m: torch.optim.Adagrad(m.parameters(), lr=5e-2, lr_decay=0.05, weight_decay=1e-2),
     "torch.optim.Adagrad(lr=5e-2, lr_decay=0.05, weight_decay=1e-2): the effective lr is lr/(1 + (t-1)*lr_decay)"),
    ("rmsprop", "rmsprop", "torch.optim.RMSprop", lambda m: torch.optim.RMSprop(m.parameters(), lr=1e-3),
     "torch.optim.RMSprop(lr=1e-3): no momentum, so d = g/(sqrt(square_avg) + eps) needs the gradient"),
    ("rmsprop_centered", "rmsprop_centered", "torch.optim.RMSprop",
     lambda m: torch.optim.RMSprop(m.parameters(), lr=1e-3, momentum=0.9, centered=True, weight_decay=1e-2),
     "torch.optim.RMSprop(lr=1e-3, momentum=0.9, centered=True, weight_decay=1e-2): d is the momentum buffer"),
    ("sgd_nesterov", "sgd_nesterov", "torch.optim.SGD",
     lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
     "torch.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4): d = g + wd*p + mu*buf"),
    ("lion", "lion", "lion_pytorch.Lion", lambda m: Lion(m.parameters(), lr=3e-4, betas=(0.9, 0.99), weight_decay=0.1),
     "Lion(lr=3e-4, betas=(0.9, 0.99), weight_decay=0.1) as lion-pytorch: sign update, decay p*(1 - lr*wd)"),
    ("adafactor_hf", "adafactor_hf", "transformers.optimization.Adafactor", lambda m: HFAdafactor(m.parameters()),
     "transformers' Adafactor with its defaults (lr=None, relative_step, scale_parameter, beta1=None): "
     "lr_t = min(1e-2, 1/sqrt(t)) * max(1e-3, RMS(w)); d needs the gradient"),
    ("adafactor_hf_beta1", "adafactor_hf_beta1", "transformers.optimization.Adafactor",
     lambda m: HFAdafactor(m.parameters(), lr=1e-2, beta1=0.9, weight_decay=1e-2, scale_parameter=False,
                           relative_step=False, clip_threshold=1.0),
     "transformers' Adafactor(lr=1e-2, beta1=0.9, weight_decay=1e-2, scale_parameter=False, relative_step=False): "
     "exp_avg is the lr-scaled update"),
    ("adafactor_torch", "adafactor_torch", "torch.optim.Adafactor",
     lambda m: TorchAdafactor(m.parameters(), lr=1e-2, weight_decay=1e-2),
     "torch.optim.Adafactor(lr=1e-2, weight_decay=1e-2) (torch >= 2.5 naming: row_var/col_var/variance)"),
    ("lamb", "lamb", "timm.optim.Lamb", lambda m: Lamb(groups_two(m, 0.01), lr=1e-2),
     "timm's Lamb(lr=1e-2), weight_decay 0.01 on the weights (trust ratio), 0 on the biases (no ratio)"),
    ("lars", "lars", "timm.optim.Lars",
     lambda m: Lars(m.parameters(), lr=1.0, momentum=0.9, weight_decay=1e-4, trust_coeff=1e-3),
     "timm's Lars(lr=1.0, momentum=0.9, weight_decay=1e-4, trust_coeff=1e-3)"),
    ("muon", "muon", "muon.SingleDeviceMuonWithAuxAdam",
     lambda m: MuonWithAuxAdam([dict(params=[m.fc1.weight, m.fc2.weight], lr=0.02, momentum=0.95, weight_decay=0.01, use_muon=True),
                                dict(params=[m.fc1.bias, m.fc2.bias], lr=3e-3, betas=(0.9, 0.95), eps=1e-10, weight_decay=0.01, use_muon=False)]),
     "Keller Jordan's SingleDeviceMuonWithAuxAdam: Muon (lr 0.02, momentum 0.95, wd 0.01) on the weights, "
     "AdamW (lr 3e-3, betas (0.9, 0.95), eps 1e-10) on the biases; Newton-Schulz in float64"),
    ("muon_bf16", "muon_bf16", "muon.SingleDeviceMuonWithAuxAdam",
     lambda m: MuonWithAuxAdam([dict(params=[m.fc1.weight, m.fc2.weight], lr=0.02, momentum=0.95, weight_decay=0.01, use_muon=True),
                                dict(params=[m.fc1.bias, m.fc2.bias], lr=3e-3, betas=(0.9, 0.95), eps=1e-10, weight_decay=0.01, use_muon=False)],
                               ns_dtype=torch.bfloat16),
     "as muon, with Newton-Schulz in bfloat16 as Keller Jordan's code runs it"),
    ("muon_torch", "muon_torch", "torch.optim.Muon",
     lambda m: TorchMuon([m.fc1.weight, m.fc2.weight], lr=0.02, weight_decay=0.01, adjust_lr_fn="match_rms_adamw"),
     "torch.optim.Muon(lr=0.02, weight_decay=0.01, adjust_lr_fn='match_rms_adamw') on the weights only (biases frozen)"),
    ("adamw8bit", "adamw8bit", "bitsandbytes.optim.AdamW8bit",
     lambda m: AdamW8bit(m.parameters(), lr=1e-3, weight_decay=1e-2),
     "bitsandbytes' AdamW8bit(lr=1e-3, weight_decay=1e-2) on a wider MLP (64 -> 128 -> 8): fc1.weight (8192 elements) "
     "keeps 8-bit state in 32 blocks of 256, the others float32 state"),
]


def group_json(g, live, names_of):
    out = {}
    for k, v in g.items():
        if k == "params":
            continue
        if isinstance(v, torch.Tensor):
            v = v.item()
        if isinstance(v, tuple):
            v = list(v)
        out[k] = v
    out["layers"] = [names_of[id(p)] for p in live["params"]]
    return out


def write_npz(path, arrays):
    """numpy.savez layout (stored members), with fixed member timestamps so reruns are byte-identical."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for k, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(a), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(k + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


def run_one(out_root, name, kind, cls, build, desc):
    torch.manual_seed(SEED)
    wide = kind == "adamw8bit"
    d_in, d_hid = (64, 128) if wide else (D_IN, D_HID)
    model = MLP(d_in, d_hid)
    if kind == "muon_torch":
        model.fc1.bias.requires_grad_(False)
        model.fc2.bias.requires_grad_(False)
    names_of = {id(p): n for n, p in model.named_parameters()}
    opt = build(model)
    data = batches(d_in, D_OUT, STEPS)
    rdir = os.path.join(out_root, "optim_" + name)
    shutil.rmtree(rdir, ignore_errors=True)
    os.makedirs(rdir)
    expected = dict(run=name, kind=kind, optimizer_class=cls, description=desc, steps={})
    for t in range(1, STEPS + 1):
        x, y = data[t - 1]
        opt.zero_grad(set_to_none=True)
        loss = ((model(x) - y) ** 2).mean()
        if kind == "amsgrad":
            loss = loss * 0.5 ** (t - 1)
        loss.backward()
        trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        before = {n: p.detach().clone() for n, p in trained}
        grads = {n: p.grad.detach().clone() for n, p in trained}
        opt.step()
        if t not in DUMP_STEPS:
            continue
        after = {n: p.detach().clone() for n, p in trained}
        sd = opt.state_dict()
        pos = {}
        i = 0
        for g in opt.param_groups:
            for p in g["params"]:
                pos[names_of[id(p)]] = i
                i += 1
        groups = [group_json(g, live, names_of) for g, live in zip(sd["param_groups"], opt.param_groups)]
        # tensors/ and state/ npz
        tens = {"step": np.int64(t)}
        state_arrays = {"step": np.int64(t)}
        layer_state = {}
        for n, _ in trained:
            tens["param_before/" + n] = before[n].numpy()
            tens["grad/" + n] = grads[n].numpy()
            tens["param_after/" + n] = after[n].numpy()
            st = sd["state"].get(pos[n], {})
            ls = {}
            for k, v in st.items():
                if isinstance(v, torch.Tensor) and v.dim() == 0:
                    ls[k] = float(v.item())
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    ls[k] = float(v)
                elif isinstance(v, torch.Tensor):
                    role = {"row_var": "exp_avg_sq_row", "col_var": "exp_avg_sq_col", "variance": "exp_avg_sq"}.get(k, k)
                    state_arrays[role + "/" + n] = v.detach().numpy().astype(np.float32)
            layer_state[n] = ls
        write_npz(os.path.join(rdir, "tensors", "step_%06d.npz" % t), tens)
        write_npz(os.path.join(rdir, "state", "step_%06d.npz" % t), state_arrays)
        os.makedirs(os.path.join(rdir, "ckpt"), exist_ok=True)
        torch.save({"model": model.state_dict(), "optimizer": sd, "step": t}, os.path.join(rdir, "ckpt", "step_%06d.pt" % t))
        # ground truth
        rows = {}
        for n, p in trained:
            g = next(gr for gr in groups if n in gr["layers"])
            st = {k: f64(v) for k, v in sd["state"].get(pos[n], {}).items() if isinstance(v, torch.Tensor) and v.dim() > 0}
            for k, role in (("row_var", "exp_avg_sq_row"), ("col_var", "exp_avg_sq_col"), ("variance", "exp_avg_sq")):
                if k in st:
                    st[role] = st[k]
            lk = kind
            if kind in ("muon", "muon_bf16") and not g["use_muon"]:
                lk = "muon_aux"
            tl = layer_state[n].get("step", t)
            if lk == "lamb":
                tl = g["step"]
            ctx = dict(grad=f64(grads[n]), p_before=f64(before[n]), state=st, group=g, t=tl, layer_state=layer_state[n])
            if kind == "lion":
                ctx["previous"] = opt.previous[p]
            if hasattr(opt, "applied") and p in getattr(opt, "applied"):
                ctx["applied"] = opt.applied[p]
            if kind == "adamw8bit":
                ctx["fp32"] = opt.fp32[p]
            tr = truth(lk, ctx)
            d, lr_d, decay = tr["d"], tr["lr"], tr["decay"]
            wd = g.get("weight_decay", 0.0) or 0.0
            pb, pa = f64(before[n]), f64(after[n])
            upd = predicted_update(pb, d, lr_d, wd, decay)
            if lk == "adafactor_torch":  # the step size alpha_t applies to d, the decay uses the group's lr
                upd = lr_d * d + g["lr"] * wd * pb
            prms = rms(pb)
            row = dict(numel=int(pb.size), shape=list(pb.shape), kind=lk, group_lr=g.get("lr"), t=tl,
                       param_rms=prms, param_rms_after=rms(pa), grad_rms=rms(f64(grads[n])), update_rms=rms(pa - pb),
                       rel_step=rms(pa - pb) / prms if prms > 0 else None,
                       direction_rms=rms(d), pred_update_rms=rms(upd),
                       pred_rel_step=rms(upd) / prms if prms > 0 else None,
                       f32_bound=rms(np.spacing(np.abs(after[n].numpy())).astype(np.float64)) / prms if prms > 0 else None,
                       decay_rms=rms(upd - (lr_d * (1 - lr_d * wd) if decay == "after" else lr_d) * d))
            for k, v in tr["extra"].items():
                if k == "d_used":
                    continue
                row[k] = v
            if kind == "adamw8bit":
                upd_used = predicted_update(pb, tr["extra"]["d_used"], lr_d, wd, decay)
                row["pred_rel_step_used"] = rms(upd_used) / prms if prms > 0 else None
            rows[n] = row
            # The fixture's own check: the measured step is the predicted one to float32 precision.
            if prms > 0 and kind not in ("adamw8bit", "muon_bf16"):
                err = abs(row["rel_step"] - row["pred_rel_step"])
                assert err <= row["f32_bound"] + 1e-6 * row["pred_rel_step"], (name, t, n, row["rel_step"], row["pred_rel_step"], row["f32_bound"])
            if kind == "adamw8bit" and prms > 0:
                err = abs(row["rel_step"] - row["pred_rel_step_used"])
                assert err <= row["f32_bound"] + 1e-6 * row["pred_rel_step_used"], (name, t, n)
        expected["steps"][str(t)] = dict(param_groups=groups, layer_state=layer_state, layers=rows)
    with open(os.path.join(rdir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    return expected


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    lines = []
    for name, kind, cls, build, desc in RUNS:
        exp = run_one(args.out, name, kind, cls, build, desc)
        last = exp["steps"][str(STEPS)]["layers"]
        lines.append("| optim_%s | %s | %s |" % (name, cls, desc))
        print(name, {n: round(r["direction_rms"], 4) for n, r in last.items()})
    with open(os.path.join(args.out, "OPTIMIZERS.md"), "w") as f:
        f.write(README_HEAD + "\n".join(lines) + "\n")


README_HEAD = """# Optimizer fixtures (optim_*/)

Written by `test/python/make_optimizer_fixtures.py` with Debian's torch 1.13 (`/usr/bin/python3`), CPU, one
thread, seed 20240601; re-running it with the same versions rewrites every optim_* folder and this file.

Each run trains the same tiny MLP (fc1 16 -> 32, tanh, fc2 32 -> 8; MSE against a fixed random teacher; input
features 12..15 are always 0, so fc1.weight's last 4 columns never get a gradient and their second moment stays
exactly 0) for 10 steps, constant lr, and writes at steps 1, 2 and 10:

- `tensors/step_NNNNNN.npz`: float32 `param_before/<layer>`, `grad/<layer>` (the gradient the step consumed,
  before any in-place change by the optimizer), `param_after/<layer>`, and `step` (int64). numpy.savez layout.
- `state/step_NNNNNN.npz`: the optimizer state after the step as `<role>/<layer>` float32 arrays (torch's
  Adafactor names row_var/col_var/variance become exp_avg_sq_row/exp_avg_sq_col/exp_avg_sq; bitsandbytes' uint8
  codes are stored as float32 values 0..255 here, in the checkpoint as uint8).
- `ckpt/step_NNNNNN.pt`: `torch.save({'model': model.state_dict(), 'optimizer': optimizer.state_dict(), 'step': N})`,
  the state dict as the library saves it (state and group keys of each library; non-torch classes are the reference
  implementations in the generator).
- `expected.json`: per step the param groups (keys as saved, with the layer names), the per-layer scalar state
  (step, mu_product, RMS) and per layer the ground truth, in float64 from the saved float32 tensors:
  `direction_rms` (RMS of d = update / lr, decoupled decay excluded), `rel_step` (measured,
  RMS(param_after - param_before)/RMS(param_before)), `pred_rel_step` (RMS(lr*d + decay)/RMS(param_before)),
  `f32_bound` (RMS of the float32 spacing of param_after / RMS(param_before): the rounding of the stored step),
  and where they apply `adam_u_rms`, `zero_v_frac`, `eps_dominated_frac` (elements with 0 < sqrt(v_hat) < eps),
  `trust_ratio`, `effective_lr`, `update_clip`. The generator asserts |rel_step - pred_rel_step| <= f32_bound +
  1e-6 * pred_rel_step for every run but the two whose step cannot be rebuilt exactly from what is saved:
  adamw8bit (the step used the float32 moments, the checkpoint holds them quantized: `pred_rel_step_used` is from
  the float32 moments, `pred_rel_step` from the dequantized ones) and muon_bf16 (Newton-Schulz in bfloat16).

| run | optimizer (class as saved) | what it exercises |
|---|---|---|
"""

if __name__ == "__main__":
    main()
