"""smearnet.data: from the NIH malaria archive (or a folder) to shuffled float32 batches.

    source (zip / folder) -> list_source -> index_source (DataIndex: path, label, slide, size)
        -> load_dataset (uint8 NHWC cache, memory-mapped) -> split_by_patient / group_kfold /
        split_random (Split manifests) -> Batches (+ Augment) -> Sequential.fit

Labels: 1 = Parasitized (positive), 0 = Uninfected (TFDS uses the opposite).
"""

from .augment import Augment
from .batches import Batches
from .cache import CachedDataset, cache_dir_for, cache_root, load_dataset, smearnet_home
from .decode import decode_image, decode_resized
from .download import OFFICIAL_SHA256, OFFICIAL_SIZE, OFFICIAL_URL, DownloadError, download
from .errors import ImageError, SkippedFileWarning, SourceError
from .index import DataIndex, index_source, slide_key
from .loose import list_images, load_images
from .samples import sample_grid
from .sources import LABEL_NAMES, Source, list_source
from .splits import (LeakageError, Split, file_key, group_kfold, split_by_patient, split_random,
                     stratified_limit)
from .summary import format_summary, summarize

__all__ = [
    "Augment", "Batches", "CachedDataset", "DataIndex", "DownloadError", "ImageError",
    "LABEL_NAMES", "LeakageError", "OFFICIAL_SHA256", "OFFICIAL_SIZE", "OFFICIAL_URL",
    "SkippedFileWarning", "Source", "SourceError", "Split", "cache_dir_for", "cache_root",
    "decode_image", "decode_resized", "download", "file_key", "format_summary", "group_kfold",
    "index_source", "list_images", "list_source", "load_dataset", "load_images",
    "sample_grid", "slide_key", "smearnet_home", "split_by_patient", "split_random",
    "stratified_limit", "summarize", "default_source",
]


def default_source() -> str:
    """Where data comes from when none is named: ``$SMEARNET_DATA``, else the archive
    ``smearnet data download`` saved (wherever its ``--dest``; see
    :func:`~smearnet.data.download.downloaded_archive`). Raises SourceError when neither exists."""
    import os

    from .download import downloaded_archive

    env = os.environ.get("SMEARNET_DATA")
    if env:
        try:  # listing is cheap; a problem found now can say where the path came from
            list_source(env)
        except SourceError as exc:
            raise SourceError(f"{exc} (the path set in $SMEARNET_DATA; fix or unset it, or "
                              "pass --data PATH)") from None
        return env
    archive = downloaded_archive()
    if archive is not None:
        return str(archive)
    raise SourceError("no data named: pass --data PATH (a cell_images.zip or a folder with "
                      "Parasitized/ and Uninfected/), set SMEARNET_DATA, or run "
                      "`smearnet data download`")
