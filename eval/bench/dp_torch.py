"""PyTorch peer for eval/bench/dp.ts: the cost of a DP-SGD step vs a non-DP step, same architectures.

Run by eval/bench/dp.ts (never a runtime dependency of medsynth). Prints one JSON object:
  {"torch": ..., "functorch": ..., "threads": n,
   "rows": {"cvae28": {"plain_ms", "dp_ms", "ratio", "ratio_min", "ratio_max"}, ...},
   "parts": {"cvae28": {"plain_grad", "per_sample", "clip_sum", "noise"}, ...}}

Architectures and non-DP steps: eval/bench/throughput_torch.py (imported). DP-SGD (Abadi et al., CCS 2016,
Alg. 1) without opacus, which is not installable here; per-sample gradients the way opacus's functorch mode
and the functorch "per-sample-grads" tutorial compute them:
  g_i   = functorch.vmap(functorch.grad(loss_i))(params, x_i, ...)    (one pass over the batch)
  ĝ     = (Σ_i g_i · min(1, C / ||g_i||) + N(0, σ²C² I)) / B             (C = 1, σ = 1, B = 64)
then the same Adam step. vmap cannot draw random numbers inside the mapped function (functorch 1.13's
randomness='error'), so the cVAE's ε is drawn outside and passed per example. GroupNorm normalises per
example, so the DP discriminator is vmappable; the fake half of its loss is an ordinary gradient (fake
images do not touch private data) added to the DP gradient of the real half.

Rows, timing and thread settings as dp.ts: cvae28, cvae64 (whole model), gan28-D (D step alone on a fixed
fake batch), gan28-step (that D step, then the G step); 5 warm-up steps of each kind, then `--repeats`
rounds of a non-DP block and a DP block (≥ `--seconds` each, ≥ 3 steps), alternating order; medians.
"""
import argparse
import json
import os
import statistics
import sys
import time

import functorch
import torch
import torch.nn.functional as F
from functorch import grad, make_functional, vmap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from throughput_torch import B, CVAE, D, G, cond, cvae_step, maps  # noqa: E402

CLIP, SIGMA = 1.0, 1.0


def dp_grads(per_sample, plist):
    """Noisy clipped mean of per-sample gradients (a tuple of [B, *p.shape]); sets p.grad."""
    norms = torch.stack([g.reshape(B, -1).norm(dim=1) for g in per_sample], 1).norm(dim=1)
    factor = (CLIP / (norms + 1e-6)).clamp(max=1.0)
    for p, g in zip(plist, per_sample):
        s = torch.einsum("i,i...->...", factor, g)
        p.grad = (s + torch.randn_like(p) * (SIGMA * CLIP)) / B


def cvae_loss_sum(model, x, c, eps):
    """Summed (over the batch) cVAE loss with ε given: the same graph as CVAE.forward + cvae_step."""
    h = model.head(model.enc(torch.cat([x, maps(c, x.shape[-1])], 1)))
    mu, logvar = h[:, :16], h[:, 16:]
    z = mu + torch.exp(0.5 * logvar) * eps
    d = F.relu(model.dec_in(torch.cat([z, c], 1))).view(-1, model.top, model.side, model.side)
    logits = model.dec(d)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec + kl


class LossModule(torch.nn.Module):
    """Wraps a model so that make_functional's call returns a loss: forward(*args) = fn(inner, *args)."""

    def __init__(self, inner, fn):
        super().__init__()
        self.inner = inner
        self.fn = fn

    def forward(self, *args):
        return self.fn(self.inner, *args)


def make_cvae_dp(size):
    model = CVAE(size)
    fmodel, params = make_functional(LossModule(model, cvae_loss_sum))
    opt = torch.optim.Adam(params, lr=1e-3)

    def loss_one(p, x, c, eps):
        return fmodel(p, x[None], c[None], eps[None])

    per_sample = vmap(grad(loss_one), in_dims=(None, 0, 0, 0))

    def step(x, c):
        eps = torch.randn(B, 16)
        dp_grads(per_sample(params, x, c, eps), params)
        opt.step()

    def parts(x, c):
        eps = torch.randn(B, 16)
        out = {}
        out["plain_grad"] = timed(lambda: torch.autograd.grad(fmodel(params, x, c, eps), params))
        out["per_sample"] = timed(lambda: per_sample(params, x, c, eps))
        per = per_sample(params, x, c, eps)
        out["clip_sum"] = timed(lambda: clip_sum(per))
        out["noise"] = timed(lambda: [torch.randn_like(p) for p in params])
        return out

    return step, parts


def clip_sum(per):
    norms = torch.stack([g.reshape(B, -1).norm(dim=1) for g in per], 1).norm(dim=1)
    factor = (CLIP / (norms + 1e-6)).clamp(max=1.0)
    return [torch.einsum("i,i...->...", factor, g) for g in per]


def timed(fn, reps=7):
    """ms per call: the minimum over reps calls after 2 warm-up calls (other load only adds time)."""
    t = []
    for _ in range(reps + 2):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1000)
    return min(t[2:])


def make_gan():
    """Non-DP and DP versions of the D step and the whole step, on one G and one (functional) D."""
    g = G()
    d = D()
    fd, dparams = make_functional(d)
    og = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(dparams, lr=2e-4, betas=(0.5, 0.999))
    x, c = torch.rand(B, 1, 28, 28) * 2 - 1, cond(B)
    ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)
    with torch.no_grad():
        fixed_fake = g(torch.randn(B, 100), c)

    def real_loss_one(p, xi, ci):
        return F.binary_cross_entropy_with_logits(fd(p, xi[None], ci[None]), torch.ones(1, 1), reduction="sum")

    per_sample = vmap(grad(real_loss_one), in_dims=(None, 0, 0))

    def d_plain(fake):
        loss = (F.binary_cross_entropy_with_logits(fd(dparams, x, c), ones)
                + F.binary_cross_entropy_with_logits(fd(dparams, fake.detach(), c), zeros))
        od.zero_grad(set_to_none=True)
        gs = torch.autograd.grad(loss, dparams)
        for p, gr in zip(dparams, gs):
            p.grad = gr
        od.step()

    def d_dp(fake):
        dp_grads(per_sample(dparams, x, c), dparams)
        fake_loss = F.binary_cross_entropy_with_logits(fd(dparams, fake.detach(), c), zeros)
        for p, gr in zip(dparams, torch.autograd.grad(fake_loss, dparams)):
            p.grad += gr
        od.step()

    def g_step(fake):
        loss_g = F.binary_cross_entropy_with_logits(fd(dparams, fake, c), ones)
        og.zero_grad(set_to_none=True)
        loss_g.backward(inputs=list(g.parameters()))
        og.step()

    def whole(d_update):
        def step():
            fake = g(torch.randn(B, 100), c)
            d_update(fake)
            g_step(fake)
        return step

    def parts():
        out = {}
        out["plain_grad"] = timed(lambda: torch.autograd.grad(
            F.binary_cross_entropy_with_logits(fd(dparams, x, c), ones, reduction="sum"), dparams))
        out["per_sample"] = timed(lambda: per_sample(dparams, x, c))
        per = per_sample(dparams, x, c)
        out["clip_sum"] = timed(lambda: clip_sum(per))
        out["noise"] = timed(lambda: [torch.randn_like(p) for p in dparams])
        return out

    return {
        "gan28-D": (lambda: d_plain(fixed_fake), lambda: d_dp(fixed_fake)),
        "gan28-step": (whole(d_plain), whole(d_dp)),
        "parts": parts,
    }


def time_block(fn, seconds, min_steps=3):
    """Mean wall and process-CPU ms per step, and the fastest step's ms, over >= seconds and >= min_steps steps."""
    steps, t0, c0, fastest = 0, time.perf_counter(), time.process_time(), float("inf")
    while True:
        s0 = time.perf_counter()
        fn()
        now = time.perf_counter()
        fastest = min(fastest, (now - s0) * 1000)
        steps += 1
        elapsed = now - t0
        if elapsed >= seconds and steps >= min_steps:
            return elapsed * 1000 / steps, (time.process_time() - c0) * 1000 / steps, fastest


def time_row(plain, dp, seconds, repeats):
    for _ in range(5):
        plain()
        dp()
    ps, ds, rs, cs = [], [], [], []
    best = {"plain": float("inf"), "dp": float("inf")}
    for r in range(repeats):
        got = {}
        for kind in (("plain", "dp") if r % 2 == 0 else ("dp", "plain")):
            got[kind] = time_block(plain if kind == "plain" else dp, seconds)
        ps.append(got["plain"][0])
        ds.append(got["dp"][0])
        rs.append(got["dp"][0] / got["plain"][0])
        cs.append(got["dp"][1] / got["plain"][1])
        for kind in best:
            best[kind] = min(best[kind], got[kind][2])
    return {"plain_ms": statistics.median(ps), "dp_ms": statistics.median(ds), "ratio": statistics.median(rs),
            "ratio_min": min(rs), "ratio_max": max(rs), "cpu_ratio": statistics.median(cs),
            "best_ratio": best["dp"] / best["plain"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="cvae28,cvae64,gan28-D,gan28-step")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "functorch": functorch.__version__, "threads": torch.get_num_threads(),
           "rows": {}, "parts": {}, "load": [os.getloadavg()[0]]}
    gan = None
    for name in args.only.split(","):
        if name in ("cvae28", "cvae64"):
            size = int(name[4:])
            model = CVAE(size)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            x, c = torch.rand(B, 1, size, size), cond(B)
            dp_step, parts = make_cvae_dp(size)
            out["rows"][name] = time_row(lambda: cvae_step(model, opt, x, c), lambda: dp_step(x, c), args.seconds, args.repeats)
            out["parts"][name] = parts(x, c)
        elif name in ("gan28-D", "gan28-step"):
            gan = gan or make_gan()
            plain, dp = gan[name]
            out["rows"][name] = time_row(plain, dp, args.seconds, args.repeats)
            out["parts"]["gan28"] = gan["parts"]()
        else:
            raise SystemExit(f"unknown row {name}")
    out["load"].append(os.getloadavg()[0])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
