"""The training loop: fitting built-in models, and retraining for repair strategies.

``fit`` minimises a per-sample-weighted cross-entropy with Adam or SGD, early-stops on
validation accuracy, restores the best weights and checkpoints them atomically. When only
a pooled-linear head is trainable (a frozen backbone), the pooled features are computed
once and only the head is trained: an EfficientNet-Lite0 transfer then takes seconds.

Example
-------
>>> from slicelens.models.builtin import SmallCNN
>>> x, y = torch.rand(32, 3, 16, 16), torch.arange(32) % 2
>>> res = fit(SmallCNN(2, width=4), TrainData(x, y), cfg=TrainConfig(epochs=1, batch_size=8))
>>> res.history[0]["epoch"], res.best_epoch
(1, 1)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field
from torch import nn

from slicelens.models.normalize import parse_normalize
from slicelens.models.outputs import as_logits
from slicelens.utils import progress, resolve_device, seed_everything


class TrainConfig(BaseModel):
    """Optimisation settings of :func:`fit` (stored in run records)."""

    epochs: int = Field(10, ge=1, description="maximum training epochs")
    batch_size: int = Field(64, ge=1, description="training batch size")
    lr: float = Field(1e-3, gt=0, description="learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="L2 weight decay")
    optimizer: Literal["adam", "sgd"] = Field("adam", description="optimizer (sgd uses momentum 0.9)")
    patience: int = Field(3, ge=1, description="stop after this many epochs without a better validation accuracy")
    seed: int = Field(0, description="seed of the initial weights (train_model, apply_plan), batch order and augmentation")
    device: str | None = Field(None, description="torch device (default: cuda when present, else cpu)")
    hflip: bool = Field(False, description="random horizontal flips of training images")
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads while training")


@dataclass
class TrainData:
    """Training or validation samples.

    x : Tensor, float ``(n, 3, H, W)`` in ``[0, 1]``, or uint8 ``(n, H, W, 3)`` /
        ``(n, 3, H, W)`` (converted per batch, to save memory)
    y : LongTensor ``(n,)``
    weight : FloatTensor ``(n,)``, optional
        Per-sample loss weights; the loss is ``sum(w * ce) / sum(w)``.
    augment : callable ``(xb, idx) -> xb``, optional
        Applied to each training batch of ``[0, 1]`` images ``xb (b, 3, H, W)``, with
        ``idx`` the LongTensor ``(b,)`` of the samples' rows in ``x`` (CoRM noise, ...).
    group : LongTensor ``(n,)``, optional
        (Pseudo-)group per sample, ``-1`` = none: Group DRO's groups on training data,
        the groups whose worst accuracy selects the model on validation data.
    """

    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor | None = None
    augment: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    group: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.y)

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        """Images ``idx`` as float ``(b, 3, H, W)`` in ``[0, 1]`` (before ``augment``)."""
        return to_float_images(self.x[idx])


@dataclass
class TrainResult:
    """What :func:`fit` did: one history row per epoch (1-based), the best epoch and file.

    ``best_val_acc`` is the selection score of the best epoch: validation accuracy, or the
    worst group's validation accuracy with ``select_by="worst_group"``.
    """

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_acc: float = math.nan
    checkpoint: Path | None = None


def to_float_images(x: torch.Tensor) -> torch.Tensor:
    """uint8 ``(n, H, W, 3)`` or ``(n, 3, H, W)`` -> float ``(n, 3, H, W)`` in ``[0, 1]``."""
    if x.dtype != torch.uint8:
        return x.float()
    if x.shape[1] != 3 and x.shape[-1] == 3:
        x = x.permute(0, 3, 1, 2)
    return x.float().div_(255.0)


def normalizer(normalize) -> Callable[[torch.Tensor], torch.Tensor]:
    """The input transform the adapter applies (any ``--normalize`` form, see ``models.normalize``)."""
    stats = parse_normalize(normalize)
    if stats is None:
        return lambda x: x
    m, s = torch.tensor(stats[0]).view(1, -1, 1, 1), torch.tensor(stats[1]).view(1, -1, 1, 1)
    return lambda x: (x - m.to(x.device)) / s.to(x.device)


@torch.no_grad()
def predict_logits(module: nn.Module, x: torch.Tensor, batch_size: int = 256, normalize=None,
                   device=None) -> torch.Tensor:
    """Logits ``(n, C)`` (on CPU) of ``module`` in eval mode for images ``x`` (see :class:`TrainData`)."""
    dev = resolve_device(device) if device is not None else next(module.parameters()).device
    norm = normalizer(normalize)
    module.eval()
    out = [as_logits(module(norm(to_float_images(x[i:i + batch_size]).to(dev)))).cpu()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.empty(0, 0)


def _weighted_ce(logits, y, w):
    ce = F.cross_entropy(logits, y, reduction="none")
    return ce.mean() if w is None else (w * ce).sum() / w.sum().clamp_min(1e-12)


def _freeze_bn_of_frozen(module: nn.Module, trainable: set[int]) -> None:
    """Modules whose own parameters are all frozen run in eval mode (fixed BN statistics)."""
    for m in module.modules():
        own = list(m.parameters(recurse=False))
        if own and not any(id(p) in trainable for p in own):
            m.eval()


def _head_only(module, trainable, train: TrainData, normalize, device):
    """``(linear, featurize)`` when only a verified pooled-linear head is trainable, else None."""
    from slicelens.models.adapter import ModelAdapter

    if len(trainable) > 2 or train.augment is not None or isinstance(module, torch.jit.ScriptModule):
        return None
    size = train.batch(torch.arange(1)).shape[-1]
    try:
        ad = ModelAdapter(module, [""], input_size=size, normalize=normalize, device=device)
    except Exception:  # noqa: BLE001 - no detectable head: use the general loop
        return None
    if ad.head is None:
        return None
    linear = dict(module.named_modules())[ad.head.name]
    if {id(p) for p in linear.parameters()} != trainable:
        return None

    @torch.inference_mode()
    def featurize(data: TrainData, flip: bool = False) -> torch.Tensor:
        feats = []
        for i in range(0, len(data), 256):
            xb = data.batch(torch.arange(i, min(i + 256, len(data))))
            feats.append(ad.forward_parts(xb.flip(-1) if flip else xb)[0].mean(dim=(2, 3)))
        return torch.cat(feats).clone()

    return linear, featurize


def worst_group_acc(correct: torch.Tensor, group: torch.Tensor) -> float:
    """Accuracy of the worst group (groups ``>= 0``; NaN without any).

    Examples
    --------
    >>> worst_group_acc(torch.tensor([1, 1, 0, 1]).bool(), torch.tensor([0, 0, 1, 1]))
    0.5
    """
    accs = [float(correct[group == g].float().mean()) for g in torch.unique(group) if g >= 0]
    return min(accs) if accs else math.nan


def gdro_loss(ce: torch.Tensor, group: torch.Tensor, q: torch.Tensor, eta: float) -> torch.Tensor:
    """Group DRO's online objective (Sagawa et al. 2020, Algorithm 1), updating ``q`` in place.

    For each group ``g`` in the batch, ``q_g <- q_g * exp(eta * loss_g)`` with ``loss_g`` the
    mean loss of its samples; ``q`` is renormalised and the loss is ``sum_g q_g loss_g``.

    Parameters
    ----------
    ce : Tensor (b,)
        Per-sample losses.
    group : LongTensor (b,)
        Groups in ``[0, G)``; ``-1`` samples are ignored.
    q : Tensor (G,)
        Group weights (a distribution), kept across batches.
    eta : float

    Examples
    --------
    >>> q = torch.full((2,), 0.5)
    >>> loss = gdro_loss(torch.tensor([1.0, 3.0]), torch.tensor([0, 1]), q, eta=1.0)
    >>> bool(q[1] > q[0]), round(float(loss), 3)
    (True, 2.762)
    """
    G = len(q)
    ok = group >= 0
    g = group[ok]
    sums = torch.zeros(G, device=ce.device).index_add(0, g, ce[ok])
    counts = torch.zeros(G, device=ce.device).index_add(0, g, torch.ones_like(ce[ok]))
    losses = sums / counts.clamp_min(1)
    present = counts > 0
    with torch.no_grad():
        q[present] *= torch.exp(eta * losses[present].detach())
        q /= q.sum()
    return (q[present] * losses[present]).sum() / q[present].sum().clamp_min(1e-12)


def fit(module: nn.Module, train: TrainData, val: TrainData | None = None,
        cfg: TrainConfig | None = None, *, normalize=None, checkpoint_dir=None,
        trainable: list[nn.Parameter] | None = None, gdro_eta: float | None = None,
        select_by: Literal["accuracy", "worst_group"] = "accuracy") -> TrainResult:
    """Train ``module`` in place; early-stop on validation accuracy and restore the best.

    Parameters
    ----------
    module : nn.Module
        Maps normalised images ``(n, 3, H, W)`` to logits ``(n, C)``.
    train, val : TrainData
        ``val`` drives early stopping; without it the last epoch is kept.
    cfg : TrainConfig
    normalize : "imagenet", None or (mean, std)
        Applied to ``[0, 1]`` images, as the adapter does at inference.
    checkpoint_dir : path, optional
        The best ``state_dict`` is written atomically to ``checkpoint_dir/best.pt`` on
        every improvement.
    trainable : list of parameters, optional
        Default: the parameters with ``requires_grad``. Modules whose parameters are all
        frozen stay in eval mode. If only a pooled-linear head is trainable and there is no
        ``augment``, features are computed once and the head is trained on them (dropout
        before the head is then skipped).
    gdro_eta : float, optional
        Train with Group DRO (:func:`gdro_loss`) over ``train.group`` at this step size
        (per-sample weights are then ignored).
    select_by : {"accuracy", "worst_group"}
        Early stopping and the restored epoch: validation accuracy, or the worst
        accuracy over ``val.group`` (groups a person made, never true groups).

    Returns
    -------
    TrainResult
    """
    cfg = cfg or TrainConfig()
    prev_threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        if gdro_eta is not None and train.group is None:
            raise ValueError("Group DRO needs train.group")
        if select_by == "worst_group" and (val is None or val.group is None):
            raise ValueError("select_by='worst_group' needs val.group")
        return _fit(module, train, val, cfg, normalize, checkpoint_dir, trainable, gdro_eta,
                    select_by)
    finally:
        torch.set_num_threads(prev_threads)


def _fit(module, train, val, cfg, normalize, checkpoint_dir, trainable, gdro_eta=None,
         select_by="accuracy") -> TrainResult:
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    module.to(device)
    params = trainable if trainable is not None else [p for p in module.parameters() if p.requires_grad]
    ids = {id(p) for p in params}
    gen = torch.Generator().manual_seed(cfg.seed)
    fast = _head_only(module, ids, train, normalize, device)
    n_groups = max(1, int(train.group.max()) + 1) if gdro_eta is not None else 0
    q = torch.full((n_groups,), 1.0 / n_groups, device=device) if gdro_eta is not None else None
    if fast is not None:
        net, featurize = fast
        feats = featurize(train)
        feats_flip = featurize(train, flip=True) if cfg.hflip else None
        val_x = featurize(val) if val is not None else None
    else:
        net, norm = module, normalizer(normalize)
        val_x = val.x if val is not None else None

    def get_batch(idx):
        if fast is not None:
            xb = feats[idx]
            if feats_flip is not None:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(flip[:, None], feats_flip[idx], xb)
            return xb.to(device)
        xb = train.batch(idx)
        if cfg.hflip:
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
        if train.augment is not None:
            xb = train.augment(xb, idx)
        return norm(xb.to(device))

    opt = (torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay) if cfg.optimizer == "adam"
           else torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay))
    res = TrainResult()
    best_state, best_acc, stale = None, -math.inf, 0
    for epoch in progress(range(1, cfg.epochs + 1), desc="train", unit="epoch"):
        module.train()
        _freeze_bn_of_frozen(module, ids)
        total, count = 0.0, 0
        for idx in torch.randperm(len(train), generator=gen).split(cfg.batch_size):
            logits = as_logits(net(get_batch(idx)))
            if q is not None:
                ce = F.cross_entropy(logits, train.y[idx].to(device), reduction="none")
                loss = gdro_loss(ce, train.group[idx].to(device), q, gdro_eta)
            else:
                w = train.weight[idx].to(device) if train.weight is not None else None
                loss = _weighted_ce(logits, train.y[idx].to(device), w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, count = total + loss.item() * len(idx), count + len(idx)
        row = {"epoch": epoch, "train_loss": total / max(count, 1), "val_loss": math.nan, "val_acc": math.nan}
        if val is not None:
            assert val_x is not None  # set with val
            logits = predict_logits(net, val_x, normalize=None if fast else normalize, device=device)
            row["val_loss"] = float(F.cross_entropy(logits, val.y))
            correct = logits.argmax(1) == val.y
            row["val_acc"] = float(correct.float().mean())
            if val.group is not None:
                row["val_worst_group_acc"] = worst_group_acc(correct, val.group)
        res.history.append(row)
        score = row["val_worst_group_acc"] if select_by == "worst_group" else row["val_acc"]
        improved = val is None or score > best_acc
        if improved:
            best_acc, stale, res.best_epoch = score, 0, epoch
            best_state = copy.deepcopy(module.state_dict())
            if checkpoint_dir is not None:
                res.checkpoint = _save_state(best_state, Path(checkpoint_dir) / "best.pt")
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    res.best_val_acc = best_acc if val is not None else math.nan
    return res


def _save_state(state: dict, path: Path) -> Path:
    from slicelens.atomic import atomic_open

    with atomic_open(path, "wb") as f:
        torch.save(state, f)
    return path
