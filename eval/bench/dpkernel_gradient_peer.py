"""Does the noise of DP-Kernel's published loss reach the generator's gradient? (issue #18, 2026-12-06)

Evidence for eval/results/private-generators.md, section "2026-12-06 (eighth session)". Run with Debian's
python3-torch (benchmarks only, never a runtime dependency of medsynth):
    /usr/bin/python3 eval/bench/dpkernel_gradient_peer.py
It prints one JSON object.

DP-Kernel (Jiang, Sun & Yu, "Functional Rényi Differential Privacy for Generative Modeling", NeurIPS 2023)
releases the data's kernel mean f_D(·) = (1/N) Σ_i k(x_i, ·) with Gaussian-process noise, f̃ = f_D + s·G,
G ~ GP(0, k): by the functional mechanism (Hall, Rinaldo & Wasserman, JMLR 2013) the sample path f̃ is
private, and so is its derivative, which is post-processing of the path. The authors' implementation
(repository dihjiang/DP-kernel, mmd.py, rbf_kernel_DP_loss_with_labels; DPImageBench, Gong et al. CCS 2025,
uses the same function) evaluates f_D at the N real and M generated points Z = X ∪ Y, adds one draw of
N(0, c·K_ZZ) made with torch.distributions.MultivariateNormal(...).sample(), and minimises
    L = (mean_X f̃ − 2 mean_Y f̃ + mean_{Y,Y} k)²
by backpropagation into the generator that made Y. PyTorch draws .sample() without gradient, so the draw is
a constant for autograd:
    ∂L/∂y = 2 · L^{1/2}_noisy · ∂/∂y (−2 mean_Y f_D + mean_{Y,Y} k),
the gradient of the NOISE-FREE kernel mean, rescaled by one noisy scalar. That gradient is not the
derivative of the released path (the noise's own derivative s·∇G(y) is missing), so the generator is
trained on an un-noised function of the data. This script rebuilds that loss structure on random points
(it is not the authors' code) and measures:
  - whether the draw carries gradient;
  - max |∂L/∂Y − ∂L₀/∂Y| for the unsquared loss with and without the draw (0 if the noise never reaches it);
  - the cosine between the squared loss's gradient and the noise-free one (±1 if the noise only rescales).
"""
import json

import torch
from torch.distributions.multivariate_normal import MultivariateNormal


def kernel(a: torch.Tensor, b: torch.Tensor, bandwidth: float = 1.0) -> torch.Tensor:
    """Gaussian kernel matrix exp(−||a_i − b_j||² / (2ℓ²))."""
    return torch.exp(-torch.cdist(a, b) ** 2 / (2 * bandwidth * bandwidth))


def losses(x: torch.Tensor, y: torch.Tensor, scale: float):
    """(noisy, noise-free) values of mean_X f − 2 mean_Y f + mean_{Y,Y} k with f the kernel mean of x."""
    n = x.shape[0]
    z = torch.cat([x, y])
    k = kernel(z, z) + 1e-4 * torch.eye(z.shape[0])
    f = k[:n].mean(0)  # f_D at every point of z; depends on y through k
    draw = MultivariateNormal(torch.zeros(z.shape[0]), k * scale).sample()
    noisy = f + draw
    yy = kernel(y, y).mean()
    return noisy[:n].mean() - 2 * noisy[n:].mean() + yy, f[:n].mean() - 2 * f[n:].mean() + yy, draw


def main() -> None:
    torch.manual_seed(0)
    x = torch.rand(8, 5)
    y = torch.rand(6, 5, requires_grad=True)
    noisy, exact, draw = losses(x, y, 0.5)
    g_noisy, = torch.autograd.grad(noisy, y, retain_graph=True)
    g_exact, = torch.autograd.grad(exact, y)
    y2 = y.detach().clone().requires_grad_(True)
    noisy2, exact2, _ = losses(x, y2, 0.5)
    g_sq, = torch.autograd.grad(noisy2 ** 2, y2, retain_graph=True)
    g_ref, = torch.autograd.grad(exact2, y2)
    cosine = float((g_sq * g_ref).sum() / (g_sq.norm() * g_ref.norm()))
    print(json.dumps({
        "torch": torch.__version__,
        "draw_requires_grad": bool(draw.requires_grad),
        "loss_noisy": float(noisy),
        "loss_noise_free": float(exact),
        "max_abs_grad_difference": float((g_noisy - g_exact).abs().max()),
        "squared_loss_cosine_to_noise_free_gradient": cosine,
    }))


if __name__ == "__main__":
    main()
