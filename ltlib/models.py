"""Backbones (CIFAR ResNets with option-A shortcuts, torchvision ResNets) and the backbone+head model."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ltlib import registry
from ltlib.errors import ConfigError
from ltlib.paths import resolve


class BasicBlock(nn.Module):
    """3x3-3x3 residual block; option-A shortcut (strided subsample + zero-padded channels)."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride
        self.pad = planes - in_planes

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Parameter-free option-A shortcut."""
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual forward."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    """CIFAR ResNet (He et al. 2016): 3 stages, widths w/2w/4w, GAP; returns pooled features."""

    def __init__(self, blocks: tuple[int, int, int] = (5, 5, 5), width: int = 16, in_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, in_planes = [], width
        for i, n in enumerate(blocks):
            planes = width * 2 ** i
            stage = []
            for j in range(n):
                stage.append(BasicBlock(in_planes, planes, 2 if (i > 0 and j == 0) else 1))
                in_planes = planes
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3 = layers
        self.out_dim = in_planes
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    @property
    def last_block(self) -> nn.Module:
        """The final residual block (BBN's branch split, 'last block + C' retraining)."""
        return self.layer3[-1]

    # Manifold Mixup (BBN Table 1): hidden states at depth k = 0 (the input), 1 (after stage 1), 2 (after stage 2)
    MIX_DEPTHS = 3

    def hidden(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """The hidden state at depth k (0: the input itself, 1: after stage 1, 2: after stage 2)."""
        if k >= 1:
            x = self.layer1(F.relu(self.bn1(self.conv1(x))))
        if k >= 2:
            x = self.layer2(x)
        return x

    def from_hidden(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """Pooled features from the hidden state at depth k (hidden's inverse split: from_hidden(hidden(x, k), k))."""
        if k == 0:
            return self.forward(h)
        if k == 1:
            h = self.layer2(h)
        return self.layer3(h).mean(dim=(2, 3))

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map before the last residual block."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.layer3[:-1](x)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        """Last feature map (B, C, H, W)."""
        return self.last_block(self.forward_trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled features (B, out_dim)."""
        return self.forward_map(x).mean(dim=(2, 3))


class TorchvisionBackbone(nn.Module):
    """A torchvision ResNet/ResNeXt without its fc, exposing the same trunk / last block interface."""

    def __init__(self, net: nn.Module, in_channels: int = 3) -> None:
        super().__init__()
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.net = net
        self.out_dim = net.fc.in_features
        net.fc = nn.Identity()

    @property
    def last_block(self) -> nn.Module:
        """The final residual block of layer4."""
        return self.net.layer4[-1]

    def forward_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map before the last residual block."""
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer3(n.layer2(n.layer1(x)))
        return n.layer4[:-1](x)

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        """Last feature map."""
        return self.last_block(self.forward_trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features."""
        return self.forward_map(x).mean(dim=(2, 3))


def _torchvision(name: str) -> Callable[[int], nn.Module]:
    def build(in_channels: int) -> nn.Module:
        try:
            from torchvision.models import resnet
        except Exception as e:  # noqa: BLE001 - torchvision missing or built for another torch
            raise ConfigError(f"arch '{name}' needs a working torchvision ({type(e).__name__}: {e}); "
                              "install ltstudy[vision] with a matching torch") from None
        nets = {"resnet10": lambda: resnet.ResNet(resnet.BasicBlock, [1, 1, 1, 1]),
                "resnet50": lambda: resnet.resnet50(weights=None),
                "resnet101": lambda: resnet.resnet101(weights=None),
                "resnet152": lambda: resnet.resnet152(weights=None),
                "resnext50": lambda: resnet.resnext50_32x4d(weights=None),
                # ResNeXt-101 / -152 32x4d (ResLT's and Decoupling's): torchvision's ResNet with groups 32, width 4
                "resnext101": lambda: resnet.ResNet(resnet.Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=4),
                "resnext152": lambda: resnet.ResNet(resnet.Bottleneck, [3, 8, 36, 3], groups=32, width_per_group=4)}
        return TorchvisionBackbone(nets[name](), in_channels)
    return build


def _cifar(blocks: int, width: int) -> Callable[[int], nn.Module]:
    return lambda c: ResNetCifar((blocks, blocks, blocks), width, c)


# CIFAR ResNet-(6n+2) with n blocks per stage; "xK": K times the channels of every layer (ResLT Fig. 5's
# ResNet-32 (2x) and (3x): "1x, 2x, 3x mean the multiplier of channels in each layer").
CIFAR_DEPTHS = {"resnet32": 5, "resnet20": 3, "resnet14": 2, "resnet8": 1}
WIDTHS = (1, 2, 3)
ARCHS = registry.ARCHS
ARCHS.update({f"{name}{'' if k == 1 else f'x{k}'}": _cifar(n, 16 * k)
              for name, n in CIFAR_DEPTHS.items() for k in WIDTHS})
ARCHS.update({
    "resnet8-narrow": lambda c: ResNetCifar((1, 1, 1), 8, c),
    "resnet10": _torchvision("resnet10"),
    **{name: _torchvision(name) for name in ("resnet50", "resnet101", "resnet152", "resnext50", "resnext101",
                                             "resnext152")},
})
# The ImageNet-scale backbones (torchvision definitions), for the split-file datasets.
LARGE_ARCHS = ("resnet10", "resnet50", "resnet101", "resnet152", "resnext50", "resnext101", "resnext152")


def load_pretrained(model: nn.Module, path: str) -> int:
    """Load a local torchvision state dict (e.g. resnet152-*.pth; its fc is skipped) into every torchvision
    backbone of a model; never downloads. Returns the number of tensors loaded."""
    p = str(resolve(path))                                  # relative paths: from the repository root
    if not Path(p).is_file():
        raise ConfigError(f"pretrained weights {p} not found: put the torchvision state dict there (e.g. from "
                          f"torchvision.models.ResNet152_Weights.IMAGENET1K_V1.url, fetched on a machine with internet)")
    state = torch.load(p, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}
    nets = [m.net for m in model.modules() if isinstance(m, TorchvisionBackbone)]
    if not nets:
        raise ConfigError(f"pretrained weights need a torchvision backbone ({', '.join(LARGE_ARCHS)})")
    for net in nets:
        try:
            missing, unexpected = net.load_state_dict(state, strict=False)
        except RuntimeError as e:                              # shapes of another backbone
            raise ConfigError(f"pretrained weights {p} do not fit this backbone: "
                              f"{str(e).splitlines()[-1].strip()}") from None
        missing = [k for k in missing if not k.startswith("fc.")]
        if missing or unexpected:
            raise ConfigError(f"pretrained weights {p} do not fit this backbone: missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}")
    return len(state)


def build_backbone(arch: str, in_channels: int = 3) -> nn.Module:
    """Backbone by registry name."""
    return ARCHS.build(arch, in_channels)


class LTModel(nn.Module):
    """Backbone + classifier as separate modules, so classifiers can be swapped and retrained."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (pooled) features."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits."""
        return self.head(self.backbone(x))


def count_parameters(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())
