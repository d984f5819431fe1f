"""PyTorch peer for eval/bench/throughput: the same three architectures, timed the same way.

Run by eval/bench/throughput.ts (never a runtime dependency of medsynth). Prints one JSON object:
  {"cvae28": {"img_s": ..., "steps": ..., "seconds": ...}, ..., "torch": version, "threads": n}

Architectures (batch 64; conv kernels 4, stride 2, padding 1; condition c = one-hot(class, 2) ++
one-hot(group, 2), also broadcast as 4 constant "cond map" channels):
  cvae28: enc [x ++ maps] 5x28x28 -> Conv32 -> ReLU -> Conv64 -> ReLU -> Dense(32) = (mu 16, logvar 16);
          dec [z ++ c] -> Dense(3136) -> ReLU -> 64x7x7 -> ConvT32 -> ReLU -> ConvT1 (logits).
          loss = BCE-with-logits summed / B + KL / B; Adam 1e-3.
  cvae64: as cvae28 with Conv32 -> Conv64 -> Conv128 -> Dense(32); Dense(8192) -> 128x8x8 -> ConvT64
          -> ConvT32 -> ConvT1.
  gan28:  D [x ++ maps] -> Conv64 -> LeakyReLU(0.2) -> Conv128 -> GroupNorm(32) -> LeakyReLU -> Dense(1);
          G [z(100) ++ c] -> Dense(6272) -> BN -> ReLU -> 128x7x7 -> ConvT64 -> BN -> ReLU -> ConvT1 -> tanh.
          One step = a D step on 64 real + 64 fake, then a G step. Adam 2e-4, betas (0.5, 0.999).
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

B = 64


def cond(b):
    cls = torch.randint(0, 2, (b,))
    grp = torch.randint(0, 2, (b,))
    return torch.cat([F.one_hot(cls, 2), F.one_hot(grp, 2)], 1).float()


def maps(c, size):
    return c[:, :, None, None].expand(-1, -1, size, size)


class CVAE(nn.Module):
    def __init__(self, size):
        super().__init__()
        chans = [32, 64] if size == 28 else [32, 64, 128]
        enc, cin = [], 5
        for co in chans:
            enc += [nn.Conv2d(cin, co, 4, 2, 1), nn.ReLU()]
            cin = co
        self.enc = nn.Sequential(*enc, nn.Flatten())
        self.side = size // 2 ** len(chans)
        flat = chans[-1] * self.side * self.side
        self.head = nn.Linear(flat, 32)
        self.dec_in = nn.Linear(16 + 4, flat)
        dec, rev = [], list(reversed(chans))
        for i, ci in enumerate(rev):
            co = rev[i + 1] if i + 1 < len(rev) else 1
            dec.append(nn.ConvTranspose2d(ci, co, 4, 2, 1))
            if co != 1:
                dec.append(nn.ReLU())
        self.dec = nn.Sequential(*dec)
        self.top = chans[-1]

    def forward(self, x, c):
        h = self.head(self.enc(torch.cat([x, maps(c, x.shape[-1])], 1)))
        mu, logvar = h[:, :16], h[:, 16:]
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        d = F.relu(self.dec_in(torch.cat([z, c], 1))).view(-1, self.top, self.side, self.side)
        return self.dec(d), mu, logvar


def cvae_step(model, opt, x, c):
    logits, mu, logvar = model(x, c)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
    loss = rec + kl
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


class D(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(5, 64, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, 2, 1), nn.GroupNorm(32, 128), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(128 * 7 * 7, 1))

    def forward(self, x, c):
        return self.net(torch.cat([x, maps(c, 28)], 1))


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(104, 6272), nn.BatchNorm1d(6272), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z, c):
        return self.net(self.fc(torch.cat([z, c], 1)).view(-1, 128, 7, 7))


def gan_step(g, d, og, od, x, c):
    ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)
    fake = g(torch.randn(B, 100), c)
    loss_d = (F.binary_cross_entropy_with_logits(d(x, c), ones)
              + F.binary_cross_entropy_with_logits(d(fake.detach(), c), zeros))
    od.zero_grad(set_to_none=True)
    loss_d.backward()
    od.step()
    loss_g = F.binary_cross_entropy_with_logits(d(fake, c), ones)
    og.zero_grad(set_to_none=True)
    loss_g.backward()
    og.step()


def bench(step, seconds, warmup=5):
    for _ in range(warmup):
        step()
    steps, t0 = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and steps >= 5:
            return {"img_s": B * steps / elapsed, "steps": steps, "seconds": elapsed}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="cvae28,cvae64,gan28")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    for name in args.only.split(","):
        if name in ("cvae28", "cvae64"):
            size = int(name[4:])
            model = CVAE(size)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            x, c = torch.rand(B, 1, size, size), cond(B)
            out[name] = bench(lambda: cvae_step(model, opt, x, c), args.seconds)
        elif name == "gan28":
            g, d = G(), D()
            og = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
            od = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
            x, c = torch.rand(B, 1, 28, 28) * 2 - 1, cond(B)
            out[name] = bench(lambda: gan_step(g, d, og, od, x, c), args.seconds)
        else:
            raise SystemExit(f"unknown architecture {name}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
