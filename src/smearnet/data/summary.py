"""What a source holds: counts per class, slides (patients), image sizes, files left out."""

from __future__ import annotations

from collections import Counter

import numpy as np

from .index import DataIndex

QUANTILES = (0, 5, 25, 50, 75, 95, 100)


def summarize(index: DataIndex) -> dict:
    """A JSON-able summary of an index (see :func:`format_summary` for the text form)."""
    labels, slides = index.labels, index.slides
    keyed = slides != ""
    names, group = np.unique(slides[keyed], return_inverse=True)
    per = np.zeros((len(names), 2), dtype=np.int64)
    np.add.at(per, (group, labels[keyed].astype(np.int64)), 1)
    infected = per[:, 1] > 0
    para = np.sort(per[infected, 1])[::-1]
    w, h = index.widths, index.heights
    src = index.source
    return {
        "source": str(src.root) if src is not None else None,
        "kind": src.kind if src is not None else None,
        "images": len(index),
        "classes": index.class_counts,
        "slides": int(len(names)),
        "slides_with_parasitized": int(infected.sum()),
        "slides_with_both_classes": int(np.sum(infected & (per[:, 0] > 0))),
        "slides_uninfected_only": int(np.sum(~infected)),
        "images_without_slide_key": int(np.sum(~keyed)),
        "parasitized_per_infected_slide": (
            {"min": int(para.min()), "median": float(np.median(para)), "max": int(para.max()),
             "top10_share": float(para[:10].sum() / max(para.sum(), 1))} if len(para) else None),
        "uninfected_per_slide_median": float(np.median(per[:, 0])) if len(per) else None,
        "width": {f"p{q}": float(np.percentile(w, q)) for q in QUANTILES} if len(w) else None,
        "height": {f"p{q}": float(np.percentile(h, q)) for q in QUANTILES} if len(h) else None,
        "square_fraction": float(np.mean(w == h)) if len(w) else None,
        "skipped": [[p, r] for p, r in index.skipped],
        "ignored": list(index.ignored),
        "duplicates": len(index.duplicates),
    }


def _size_row(name: str, d: dict) -> str:
    return f"  {name:<7}" + "".join(f"{d[f'p{q}']:>8.0f}" for q in QUANTILES)


def format_summary(s: dict, max_listed: int = 50) -> str:
    """Human-readable text of :func:`summarize`'s output."""
    lines = [f"source: {s['source']} ({s['kind']})",
             f"images: {s['images']:,}  ("
             + ", ".join(f"{k} {v:,}" for k, v in s["classes"].items()) + ")",
             f"slides (patients, by C<digits> key): {s['slides']}  "
             f"with parasitized cells {s['slides_with_parasitized']}, "
             f"with both classes {s['slides_with_both_classes']}, "
             f"uninfected only {s['slides_uninfected_only']}"]
    if s["images_without_slide_key"]:
        lines.append(f"images without a slide key: {s['images_without_slide_key']:,}")
    p = s["parasitized_per_infected_slide"]
    if p:
        lines.append(f"parasitized cells per infected slide: min {p['min']}, median "
                     f"{p['median']:g}, max {p['max']}; the 10 largest slides hold "
                     f"{100 * p['top10_share']:.0f}%")
    if s["uninfected_per_slide_median"] is not None:
        lines.append(f"uninfected cells per slide: median {s['uninfected_per_slide_median']:g}")
    if s["width"]:
        lines += ["image size (px):" + "".join(f"{'p' + str(q):>8}" for q in QUANTILES),
                  _size_row("width", s["width"]), _size_row("height", s["height"]),
                  f"  square: {100 * s['square_fraction']:.1f}%"]
    if s["duplicates"]:
        lines.append(f"duplicates dropped (doubled tree): {s['duplicates']:,}")
    ign = s["ignored"]
    if ign:  # distinct names, each with its count: "Thumbs.db x2, notes.txt"
        counts = Counter(x.replace("\\", "/").rsplit("/", 1)[-1] for x in ign)
        shown = [f"{n} x{c}" if c > 1 else n for n, c in list(counts.items())[:5]]
        names = ", ".join(shown) + (", ..." if len(counts) > 5 else "")
        lines.append(f"non-image files ignored: {len(ign)} ({names})")
    sk = s["skipped"]
    lines.append(f"skipped (unreadable) image files: {len(sk)}")
    lines += [f"  {path}: {reason}" for path, reason in sk[:max_listed]]
    if len(sk) > max_listed:
        lines.append(f"  ... and {len(sk) - max_listed} more")
    return "\n".join(lines)
