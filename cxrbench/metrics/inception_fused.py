"""FID Inception-v3 rebuilt for inference: the same function as torch-fidelity's network, fewer passes.

Rewrites of torch-fidelity's ``FeatureExtractorInceptionV3`` that change only float rounding (the
features agree to about 1e-6 relative; ``tests/test_inception.py`` checks it against the plain
network):
- each BatchNorm is folded into its convolution (inference statistics are constants);
- the 1x1 convolutions that read the same block input are one convolution (one pass over the
  input, one larger matrix product); a block's average-pool branch is folded in too, because a
  1x1 convolution commutes with average pooling (TF's pooling without padded zeros included):
  ``conv(avg_pool(x)) = avg_pool(conv(x))``, so the pool runs on the branch's few output channels
  instead of all input channels;
- tensors are channels-last, the layout oneDNN's CPU convolutions are fastest in;
- a grayscale image is resized once, not three times (the three RGB copies are identical), with
  torch-fidelity's own TF1-compatible bilinear resize.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 299
_STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "MaxPool_2")


def _folded(basic: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of a torch-fidelity BasicConv2d (conv without bias, then BatchNorm) as one conv."""
    bn = basic.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = basic.conv.weight * scale.reshape(-1, 1, 1, 1)
    return weight, bn.bias - bn.running_mean * scale


class ConvReLU(nn.Module):
    """A folded BasicConv2d: relu(conv(x) + b)."""

    def __init__(self, basic: nn.Module) -> None:
        super().__init__()
        weight, bias = _folded(basic)
        self.conv = nn.Conv2d(
            weight.shape[1],
            weight.shape[0],
            weight.shape[2:],
            stride=basic.conv.stride,
            padding=basic.conv.padding,
            bias=True,
        )
        self.conv.weight.data.copy_(weight)
        self.conv.bias.data.copy_(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x), inplace=True)


class MergedPointwise(nn.Module):
    """Several folded 1x1 BasicConv2d on the same input as one convolution.

    pooled: the last branch is ``BasicConv2d(avg_pool(x))`` of an Inception block; its linear part
    runs in the merged convolution and the average pool (3x3, stride 1, padding 1, padded zeros
    not counted) afterwards on its output channels, then its bias and ReLU.
    Returns the branches' outputs in order.
    """

    def __init__(self, branches: list[nn.Module], pooled: bool) -> None:
        super().__init__()
        folded = [_folded(b) for b in branches]
        self.sizes = [w.shape[0] for w, _ in folded]
        self.pooled = pooled
        weight = torch.cat([w for w, _ in folded])
        bias = torch.cat([b for _, b in folded])
        self.conv = nn.Conv2d(weight.shape[1], weight.shape[0], 1, bias=not pooled)
        self.conv.weight.data.copy_(weight)
        if pooled:
            self.register_buffer("bias", bias)
        else:
            self.conv.bias.data.copy_(bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        y = self.conv(x)
        if not self.pooled:
            return list(F.relu(y, inplace=True).split(self.sizes, dim=1))
        n = sum(self.sizes[:-1])
        direct = F.relu(y[:, :n] + self.bias[:n].reshape(1, -1, 1, 1))
        pool = F.avg_pool2d(y[:, n:], kernel_size=3, stride=1, padding=1, count_include_pad=False)
        pool = F.relu(pool + self.bias[n:].reshape(1, -1, 1, 1))
        return [*direct.split(self.sizes[:-1], dim=1), pool]


class FusedA(nn.Module):
    """InceptionA (Mixed_5b-d)."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.pointwise = MergedPointwise(
            [block.branch1x1, block.branch5x5_1, block.branch3x3dbl_1, block.branch_pool], pooled=True
        )
        self.b5x5 = ConvReLU(block.branch5x5_2)
        self.b3x3dbl = nn.Sequential(ConvReLU(block.branch3x3dbl_2), ConvReLU(block.branch3x3dbl_3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1x1, b5x5, b3x3dbl, pool = self.pointwise(x)
        return torch.cat([b1x1, self.b5x5(b5x5), self.b3x3dbl(b3x3dbl), pool], 1)


class FusedB(nn.Module):
    """InceptionB (Mixed_6a): nothing to merge (its 3x3 branch has stride 2)."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.b3x3 = ConvReLU(block.branch3x3)
        self.b3x3dbl = nn.Sequential(
            ConvReLU(block.branch3x3dbl_1), ConvReLU(block.branch3x3dbl_2), ConvReLU(block.branch3x3dbl_3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3x3(x), self.b3x3dbl(x), F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FusedC(nn.Module):
    """InceptionC (Mixed_6b-e)."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.pointwise = MergedPointwise(
            [block.branch1x1, block.branch7x7_1, block.branch7x7dbl_1, block.branch_pool], pooled=True
        )
        self.b7x7 = nn.Sequential(ConvReLU(block.branch7x7_2), ConvReLU(block.branch7x7_3))
        self.b7x7dbl = nn.Sequential(*(ConvReLU(getattr(block, f"branch7x7dbl_{i}")) for i in range(2, 6)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1x1, b7x7, b7x7dbl, pool = self.pointwise(x)
        return torch.cat([b1x1, self.b7x7(b7x7), self.b7x7dbl(b7x7dbl), pool], 1)


class FusedD(nn.Module):
    """InceptionD (Mixed_7a)."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.pointwise = MergedPointwise([block.branch3x3_1, block.branch7x7x3_1], pooled=False)
        self.b3x3 = ConvReLU(block.branch3x3_2)
        self.b7x7x3 = nn.Sequential(*(ConvReLU(getattr(block, f"branch7x7x3_{i}")) for i in range(2, 5)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3x3, b7x7x3 = self.pointwise(x)
        return torch.cat([self.b3x3(b3x3), self.b7x7x3(b7x7x3), F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FusedE(nn.Module):
    """InceptionE_1 (Mixed_7b, average-pool branch) and InceptionE_2 (Mixed_7c, max-pool branch)."""

    def __init__(self, block: nn.Module, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        branches = [block.branch1x1, block.branch3x3_1, block.branch3x3dbl_1]
        self.pointwise = MergedPointwise(branches if max_pool else [*branches, block.branch_pool], pooled=not max_pool)
        self.pool_conv = ConvReLU(block.branch_pool) if max_pool else None
        self.b3x3_a, self.b3x3_b = ConvReLU(block.branch3x3_2a), ConvReLU(block.branch3x3_2b)
        self.b3x3dbl = ConvReLU(block.branch3x3dbl_2)
        self.b3x3dbl_a, self.b3x3dbl_b = ConvReLU(block.branch3x3dbl_3a), ConvReLU(block.branch3x3dbl_3b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.max_pool:
            b1x1, b3x3, b3x3dbl = self.pointwise(x)
            pool = self.pool_conv(F.max_pool2d(x, kernel_size=3, stride=1, padding=1))
        else:
            b1x1, b3x3, b3x3dbl, pool = self.pointwise(x)
        b3x3dbl = self.b3x3dbl(b3x3dbl)
        return torch.cat(
            [b1x1, self.b3x3_a(b3x3), self.b3x3_b(b3x3), self.b3x3dbl_a(b3x3dbl), self.b3x3dbl_b(b3x3dbl), pool], 1
        )


class FusedInceptionV3(nn.Module):
    """uint8 grayscale [B, 1, H, W] -> float32 [B, 2048] pool features, as torch-fidelity's network computes them."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            *(ConvReLU(m) if hasattr(m, "bn") else m for m in (getattr(network, name) for name in _STEM))
        )
        self.blocks = nn.Sequential(
            FusedA(network.Mixed_5b),
            FusedA(network.Mixed_5c),
            FusedA(network.Mixed_5d),
            FusedB(network.Mixed_6a),
            FusedC(network.Mixed_6b),
            FusedC(network.Mixed_6c),
            FusedC(network.Mixed_6d),
            FusedC(network.Mixed_6e),
            FusedD(network.Mixed_7a),
            FusedE(network.Mixed_7b, max_pool=False),
            FusedE(network.Mixed_7c, max_pool=True),
        )
        self.to(memory_format=torch.channels_last).requires_grad_(False).eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

        x = interpolate_bilinear_2d_like_tensorflow1x(
            images.float(), size=(INPUT_SIZE, INPUT_SIZE), align_corners=False
        )
        x = ((x - 128) / 128).expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)
        return self.blocks(self.stem(x)).mean(dim=(2, 3))
