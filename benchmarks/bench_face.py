"""Benchmark of the face plugin (face.ae, face.vae, face.cvae) on the FER2013 validation split.

Prints (and optionally writes as JSON):

* reconstruction MSE and SSIM (``skimage.metrics.structural_similarity``, data range 1) per model;
* linear probe: ``sklearn`` logistic regression on AE / VAE latents (standardised) fitted on
  training faces, accuracy on validation (7 emotions, chance 14 %);
* expression synthesis: ``--synthesis-faces`` validation faces (300 by default, a fixed random
  draw; 0: all) morphed by ``face.cvae`` to each of the 7 emotions, the rate at which the
  shipped expression classifier assigns the target (per emotion and mean), identity as SSIM
  between source and morph, and ``identity_ssim_own``: SSIM between each source and its morph to
  its *own* (labelled) emotion. Skipped (reported as not measured) when no expression
  classifier with weights is registered;
* sample quality: Frechet distance between ``--fd-samples`` faces sampled from ``face.vae`` /
  ``face.cvae`` and the validation faces, in the expression classifier's feature space (its
  pooled penultimate layer, 384-d for ``expression.resmasknet``; the formula of Heusel et al.
  2017, but NOT Inception FID, so not comparable with published FIDs). Beside it, the same
  distance for reference sets: training faces (real faces, the floor), Gaussian-blurred copies of
  validation faces (sigma 1 and 2 px) and the AE's reconstructions, so a reader sees where the
  samples stand;
* faces of people not in FER2013 (``--unseen PHOTO ...``): every face the default detector finds in
  the photos, cropped like ``facevox face reconstruct`` does, reconstructed by the three models.

Usage::

    python benchmarks/bench_face.py /path/to/fer2013 [--probe-train 5000] [--json out.json]
        [--weights face.cvae=runs/face-cvae/best ...]     # evaluate a training run before shipping
        [--unseen photo.jpg ...]                          # people not in FER2013

The reconstruction SSIM here is scikit-image's default (7x7 uniform window, sample
covariance); the trainers log the Gaussian-window SSIM of ``facevox_face.metrics.ssim``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import facevox
import numpy as np
import torch
from facevox.datasets import FER2013_LABELS, load_fer2013


def _batches(x: torch.Tensor, size: int = 256):
    for i in range(0, len(x), size):
        yield x[i : i + size]


def _ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from skimage.metrics import structural_similarity

    return np.array([structural_similarity(p, q, data_range=1.0) for p, q in zip(a, b, strict=True)])


@torch.no_grad()
def _reconstruction(model, x: torch.Tensor) -> dict[str, float]:
    recon = torch.cat([model.reconstruct(b) for b in _batches(x)])
    ssim = _ssim(x[:, 0].double().numpy(), recon[:, 0].double().numpy())
    return {"mse": float((recon - x).pow(2).mean()), "ssim": float(ssim.mean())}


@torch.no_grad()
def _latents(model, x: torch.Tensor) -> np.ndarray:
    return torch.cat([model.encode(b) for b in _batches(x)]).float().numpy()


def _probe(model, x_tr, y_tr, x_va, y_va) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
    clf.fit(_latents(model, x_tr), y_tr)
    return float((clf.predict(_latents(model, x_va)) == y_va).mean())


def _probe_cv(model, x_va, y_va) -> float:
    """Secondary: 5-fold cross-validated probe inside the validation split (no train/val shift)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
    return float(cross_val_score(clf, _latents(model, x_va), y_va, cv=5).mean())


@functools.cache  # the samples and synthesis sections share one loaded classifier
def _classifier(name: str | None = None):
    if name is None:
        names = [n for n in facevox.list_models(task="expression-classification") if facevox.model_info(n)["pretrained"]]
        names.sort(key=lambda n: (not n.startswith("expression."), n))
        if not names:
            return None, None
        name = names[0]
    return name, facevox.create_model(name).eval()


def _prepare(clf, spec, x: torch.Tensor) -> torch.Tensor:
    """``(N, 1, 48, 48)`` faces in [0, 1] -> the classifier's normalised input (its card's Preprocessing)."""
    pre = spec.card.preprocessing
    mean = torch.tensor(pre.mean or (0.0,)).view(1, -1, 1, 1)
    std = torch.tensor(pre.std or (1.0,)).view(1, -1, 1, 1)
    c, h, w = clf.input_size
    if (h, w) != tuple(x.shape[-2:]):
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return (x.expand(-1, c, -1, -1) - mean) / std


@torch.no_grad()
def _classify(clf, spec, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([clf(_prepare(clf, spec, b)).argmax(1) for b in _batches(x)])


@torch.no_grad()
def _features(clf, spec, x: torch.Tensor) -> np.ndarray:
    """Penultimate-layer features ``(N, D)`` float64 of the expression classifier."""
    return torch.cat([clf.features(_prepare(clf, spec, b)) for b in _batches(x)]).double().numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets ``a`` ``(N, D)`` and ``b`` ``(M, D)``.

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (Dowson & Landau 1982; as in FID,
    Heusel et al. 2017, but computed in whatever feature space ``a`` and ``b`` come from).
    """
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # near-singular product: regularise as pytorch-fid does
        eps = np.eye(a.shape[1]) * 1e-6
        root = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = int(3 * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = (g / g.sum()).view(1, 1, 1, -1)
    y = torch.nn.functional.pad(x, (radius, radius, radius, radius), mode="replicate")
    y = torch.nn.functional.conv2d(y, g)
    return torch.nn.functional.conv2d(y, g.transpose(-1, -2))


@torch.no_grad()
def _sample_quality(models: dict, x_val: torch.Tensor, x_train: torch.Tensor, n: int,
                    classifier: str | None) -> dict[str, object] | None:
    name, clf = _classifier(classifier)
    if clf is None:
        return None
    spec = facevox.get_model_spec(name)
    real = _features(clf, spec, x_val)
    gen = torch.Generator().manual_seed(0)
    cvae = models["face.cvae"]
    sets = {
        "train_faces (real, the floor)": x_train[torch.randperm(len(x_train), generator=gen)[:n]],
        "val_blurred_sigma1": _blur(x_val, 1.0),
        "val_blurred_sigma2": _blur(x_val, 2.0),
        "face.ae reconstructions": torch.cat([models["face.ae"].reconstruct(b) for b in _batches(x_val)]),
        "face.vae samples": models["face.vae"].sample(n, generator=gen),
        "face.cvae samples (null condition)": cvae.sample(n, generator=gen),
        "face.cvae samples (label k = i mod 7)": cvae.sample(n, torch.arange(n) % cvae.num_labels, generator=gen),
    }
    out: dict[str, object] = {"classifier": name, "feature_dim": int(real.shape[1]), "samples": n,
                              "note": "Frechet distance in the expression classifier's feature space; not Inception FID"}
    for label, faces in sets.items():
        out[label] = round(frechet_distance(_features(clf, spec, faces), real), 3)
    return out


@torch.no_grad()
def _synthesis(cvae, x: torch.Tensor, y: np.ndarray, classifier: str | None) -> dict[str, float] | None:
    name, clf = _classifier(classifier)
    if clf is None:
        return None
    spec = facevox.get_model_spec(name)
    order = [list(clf.labels).index(lab) for lab in cvae.labels]  # cvae label k -> classifier index
    out: dict[str, float] = {"classifier": name, "faces": len(y)}  # type: ignore[dict-item]
    src_pred = _classify(clf, spec, x).numpy()
    rates, ssims = [], []
    own = np.zeros(len(y))
    for k, label in enumerate(cvae.labels):
        morphed = torch.cat([cvae.morph(b, k) for b in _batches(x)])
        pred = _classify(clf, spec, morphed).numpy()
        rate = float((pred == order[k]).mean())
        per_face = _ssim(x[:, 0].double().numpy(), morphed[:, 0].double().numpy())
        mine = np.array([cvae.labels.index(FER2013_LABELS[v]) for v in y]) == k
        own[mine] = per_face[mine]
        out[f"target_rate_{label}"] = rate
        out[f"source_rate_{label}"] = float((src_pred == order[k]).mean())
        out[f"identity_ssim_{label}"] = float(per_face.mean())
        rates.append(rate)
        ssims.append(float(per_face.mean()))
    out["target_rate_mean"] = float(np.mean(rates))
    out["identity_ssim_mean"] = float(np.mean(ssims))
    out["identity_ssim_own"] = float(own.mean())
    out["classifier_val_accuracy_on_sources"] = float((src_pred == np.array([order[cvae.labels.index(FER2013_LABELS[v])] for v in y])).mean())
    return out


def _unseen_faces(paths: list[Path]) -> tuple[torch.Tensor, list[str]]:
    """Every face the default detector finds in ``paths``, cropped to 48x48 like ``facevox face``."""
    from facevox.images import crop_detected_face, load_image

    detector = facevox.create_face_detector()
    faces, names = [], []
    for path in paths:
        rgb = load_image(path)
        for i, box in enumerate(detector.detect(rgb)):
            faces.append(torch.from_numpy(crop_detected_face(rgb, box, size=(48, 48))).float().div(255)[None])
            names.append(f"{path.name}#{i}")
    if not faces:
        raise SystemExit(f"no face found in {', '.join(map(str, paths))}")
    return torch.stack(faces), names


@torch.no_grad()
def write_docs_grid(models: dict, path: Path) -> None:
    """Docs figure from the project's own models and public-domain input only (no FER2013 image):
    scikit-image's astronaut face, its AE / VAE reconstructions and CVAE morphs to the 7 emotions,
    and faces sampled by the VAE and, per emotion, by the CVAE."""
    from facevox.images import crop_detected_face
    from facevox_face.grid import make_grid, save_png
    from skimage.data import astronaut

    rgb = astronaut()
    box = facevox.create_face_detector().detect(rgb)[0]
    face = torch.from_numpy(crop_detected_face(rgb, box, size=(48, 48))).float().div(255)[None, None]
    cvae = models["face.cvae"]
    gen = torch.Generator().manual_seed(0)
    rows = [
        torch.cat([face, models["face.ae"].reconstruct(face), models["face.vae"].reconstruct(face),
                   cvae.reconstruct(face)]),
        torch.cat([face] + [cvae.morph(face, k) for k in range(7)]),
        models["face.vae"].sample(8, generator=gen),
    ]
    z = cvae.latent_mean + torch.randn(4, cvae.latent_dim, generator=gen) @ cvae.latent_scale.T
    for i in range(2):
        rows.append(torch.cat([cvae.decode(z[i : i + 1], torch.tensor([k])) for k in range(7)]))
    save_png(make_grid(rows, scale=3), path)
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="FER2013 root (train/, val/) or fer2013.csv")
    ap.add_argument("--probe-train", type=int, default=5000, help="training faces for the linear probe (0: all)")
    ap.add_argument("--limit", type=int, default=0, help="use only N validation faces (0: all)")
    ap.add_argument("--weights", action="append", default=[],
                    help="NAME=PATH to evaluate instead: a run's OUT/best folder (or OUT), or a .safetensors "
                    "state dict of the registered architecture")
    ap.add_argument("--skip", action="append", default=[], help="skip a section: recon, probe, samples, synthesis")
    ap.add_argument("--train-recon", type=int, default=0,
                    help="also report reconstruction on N training faces (seen in training; a data-shift check)")
    ap.add_argument("--classifier", default=None, help="expression classifier (default: first pretrained expression.*)")
    ap.add_argument("--synthesis-faces", type=int, default=300,
                    help="validation faces morphed to each emotion (fixed random draw; 0: all)")
    ap.add_argument("--fd-samples", type=int, default=3589, help="faces sampled per model for the Frechet distance")
    ap.add_argument("--unseen", type=Path, nargs="*", default=[],
                    help="photos of people not in FER2013: reconstruction on every face found in them")
    ap.add_argument("--grid", type=Path, default=None, help="write the docs figure (no FER2013 image) here")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    override = dict(item.split("=", 1) for item in args.weights)

    def load(name: str):
        if name not in override:
            return facevox.create_model(name).eval()
        path = Path(override[name])
        if path.is_dir():  # a save_pretrained folder (a training run's OUT/best), or the run folder itself
            model = facevox.load_pretrained(path / "best" if (path / "best").is_dir() else path)
            if model.facevox_name != name:
                raise SystemExit(f"--weights {name}={path}: the folder holds {model.facevox_name}, not {name}")
            return model
        model = facevox.create_model(name, pretrained=False)
        facevox.load_weights(model, path)  # a state dict of the registered architecture (shipped weights...)
        return model.eval()

    t0 = time.time()
    train_split = functools.cache(lambda: load_fer2013(args.data, "train"))  # read once, only if a section needs it
    xv, yv = load_fer2013(args.data, "val")
    if args.limit:
        keep = np.sort(np.random.default_rng(2).permutation(len(yv))[: args.limit])
        xv, yv = xv[keep], yv[keep]
    x_val = torch.from_numpy(xv).float().div(255).unsqueeze(1)
    results: dict[str, object] = {"val_faces": len(yv)}
    models = {n: load(n) for n in ("face.ae", "face.vae", "face.cvae")}
    if "recon" not in args.skip:
        for name, model in models.items():
            results[f"{name}/recon"] = r = _reconstruction(model, x_val)
            print(f"{name:10s} reconstruction: MSE {r['mse']:.5f}  SSIM {r['ssim']:.4f}", flush=True)
    if args.train_recon:
        xs, _ = train_split()
        keep = np.random.default_rng(1).permutation(len(xs))[: args.train_recon]
        x_seen = torch.from_numpy(xs[keep]).float().div(255).unsqueeze(1)
        for name, model in models.items():
            results[f"{name}/recon_train_split"] = r = _reconstruction(model, x_seen)
            print(f"{name:10s} reconstruction on {len(keep)} TRAIN faces: MSE {r['mse']:.5f}  SSIM {r['ssim']:.4f}")
    if "probe" not in args.skip:
        xt, yt = train_split()
        if args.probe_train:
            keep = np.random.default_rng(0).permutation(len(yt))[: args.probe_train]
            xt, yt = xt[keep], yt[keep]
        x_tr = torch.from_numpy(xt).float().div(255).unsqueeze(1)
        for name in ("face.ae", "face.vae"):
            acc = _probe(models[name], x_tr, yt, x_val, yv)
            results[f"{name}/probe_val_accuracy"] = acc
            print(f"{name:10s} linear probe ({len(yt)} train faces): val accuracy {acc:.4f}", flush=True)
            cv = _probe_cv(models[name], x_val, yv)
            results[f"{name}/probe_val_5fold_cv_accuracy"] = cv
            print(f"{name:10s} linear probe, 5-fold CV within val (secondary): {cv:.4f}", flush=True)
    if args.unseen:
        x_unseen, names = _unseen_faces(args.unseen)
        results["unseen_faces"] = names
        for name, model in models.items():
            results[f"{name}/recon_unseen"] = r = _reconstruction(model, x_unseen)
            print(f"{name:10s} reconstruction on {len(names)} faces of people not in FER2013: "
                  f"MSE {r['mse']:.5f}  SSIM {r['ssim']:.4f}", flush=True)
    if "samples" not in args.skip:
        xs, _ = train_split()
        fd = _sample_quality(models, x_val, torch.from_numpy(xs).float().div(255).unsqueeze(1), args.fd_samples,
                             args.classifier)
        results["sample_frechet_distance"] = fd if fd is not None else "not measured: no expression classifier"
        if fd is not None:
            print(f"Frechet distance to the {len(yv)} val faces in {fd['classifier']}'s {fd['feature_dim']}-d "
                  "feature space (NOT Inception FID):")
            for key, value in fd.items():
                if isinstance(value, float):
                    print(f"  {key:40s} {value:9.3f}")
    if "synthesis" not in args.skip:
        xs_syn, ys_syn = x_val, yv
        if args.synthesis_faces and args.synthesis_faces < len(yv):
            keep = np.sort(np.random.default_rng(3).permutation(len(yv))[: args.synthesis_faces])
            xs_syn, ys_syn = x_val[keep], yv[keep]
        syn = _synthesis(models["face.cvae"], xs_syn, ys_syn, args.classifier)
        results["face.cvae/synthesis"] = syn if syn is not None else "not measured: no expression classifier"
        if syn is None:
            print("expression synthesis: not measured (no pretrained expression classifier registered)")
        else:
            print(f"expression synthesis (classifier {syn['classifier']}):")
            for label in FER2013_LABELS:
                print(f"  -> {label:9s} target rate {syn[f'target_rate_{label}']:.3f}  "
                      f"(source rate {syn[f'source_rate_{label}']:.3f})  identity SSIM {syn[f'identity_ssim_{label}']:.3f}")
            print(f"  mean target rate {syn['target_rate_mean']:.4f}  mean identity SSIM {syn['identity_ssim_mean']:.4f}"
                  f"  identity SSIM to its own emotion {syn['identity_ssim_own']:.4f} ({syn['faces']} faces)")
    if args.grid:
        write_docs_grid(models, args.grid)
    results["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
