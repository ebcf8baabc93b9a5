"""Fetch the official archive: resumable, checked, and atomic.

The transfer goes to ``<name>.part`` beside the final file. An interrupted transfer (a cut
connection, Ctrl-C) keeps the ``.part`` file and the next attempt asks the server only for the
rest (HTTP Range); a server that ignores Range sends it all again. Only a file whose size and
SHA-256 both match is renamed to its final name; on a mismatch the bad bytes are deleted, so
nothing wrong is ever found under the final name or resumed from.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

from .cache import smearnet_home
from .errors import SourceError

OFFICIAL_URL = "https://data.lhncbc.nlm.nih.gov/public/Malaria/cell_images.zip"
OFFICIAL_SIZE = 353_452_851
OFFICIAL_SHA256 = "0a949556b2414159b5100192609805376654c4266d8d187be9b1922fad43c668"
ARCHIVE_NAME = "cell_images.zip"  # the name a download is saved under, whatever the URL's
RECORD_NAME = "download.json"     # in $SMEARNET_HOME: where the last download was saved
_CHUNK = 1 << 16
_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
              OSError)


class DownloadError(SourceError):
    """A download that failed or did not match its expected size and checksum (one line)."""


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _mismatch(path: Path, size: int | None, sha256: str | None) -> str | None:
    """Why ``path`` is not the expected file, or None when size and SHA-256 match."""
    got = path.stat().st_size
    if size is not None and got != size:
        return f"got {got} bytes, expected {size}"
    if sha256 is not None:
        digest = sha256_of(path)
        if digest != sha256.lower():
            return f"SHA-256 {digest} does not match the expected {sha256}"
    return None


def _total_from(resp, have: int) -> int | None:
    """The full file's size from a 206's Content-Range or a 200's Content-Length."""
    cr = resp.headers.get("Content-Range")
    if cr:
        m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", cr)
        if m and m.group(2) != "*":
            return int(m.group(2))
    cl = resp.headers.get("Content-Length")
    return have + int(cl) if cl is not None else None


def _attempt(url: str, part: Path, size: int | None, timeout: float, bar) -> bool:
    """One request, appending to ``part``. True when the file is complete (per the server)."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return True
    req = urllib.request.Request(url, headers={"User-Agent": "smearnet",
                                               **({"Range": f"bytes={have}-"} if have else {})})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and have:  # nothing left to send: the part is already whole
            return True
        raise
    with resp:
        if have and resp.status != 206:  # the server ignored Range: start again
            have = 0
        if have and not (resp.headers.get("Content-Range") or "").startswith(f"bytes {have}-"):
            raise DownloadError(f"{url}: server answered a resume with the wrong byte range")
        total = _total_from(resp, have)
        if size is not None and total is not None and total != size:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{url}: server offers {total} bytes, expected {size}")
        bar.reset(total=total or size)
        bar.update(have)
        with open(part, "ab" if have else "wb") as f:
            while block := resp.read(_CHUNK):
                f.write(block)
                bar.update(len(block))
        done = part.stat().st_size
    return total is None or done >= total


def _resume_hint(part: Path) -> str:
    """``"; run again to resume"`` only when some bytes were kept to resume from."""
    try:
        kept = part.stat().st_size
    except OSError:
        kept = 0
    if kept:
        return f"; {kept:,} bytes kept in {part}, run again to resume"
    if part.exists():
        part.unlink(missing_ok=True)  # an empty .part is nothing to resume
    return ""


def record_path() -> Path:
    """``$SMEARNET_HOME/download.json``: where :func:`download` notes the archive it saved."""
    return smearnet_home() / RECORD_NAME


def _record(final: Path) -> None:
    """Note where the archive is, so commands run without --data find it in any --dest."""
    import json
    import warnings

    rec = record_path()
    try:
        rec.parent.mkdir(parents=True, exist_ok=True)
        tmp = rec.with_name(f".{rec.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"archive": str(final.resolve())}))
        os.replace(tmp, rec)
    except OSError as exc:
        warnings.warn(f"{rec}: cannot note where the archive was saved ({exc.strerror}); "
                      f"pass --data {final} to the other commands", stacklevel=3)


def downloaded_archive() -> Path | None:
    """The archive the last :func:`download` saved (if it is still there), else
    ``$SMEARNET_HOME/cell_images.zip`` if present, else None."""
    import json

    try:
        noted = Path(json.loads(record_path().read_text())["archive"])
        if noted.is_file():
            return noted
    except (OSError, ValueError, KeyError, TypeError):
        pass
    home = smearnet_home() / ARCHIVE_NAME
    return home if home.is_file() else None


def download(url: str = OFFICIAL_URL, dest: str | os.PathLike | None = None,
             sha256: str | None = OFFICIAL_SHA256, size: int | None = OFFICIAL_SIZE,
             filename: str | None = None, progress: bool = True, retries: int = 5,
             timeout: float = 60.0, backoff: float = 1.0) -> Path:
    """Download ``url`` into ``dest`` (default ``$SMEARNET_HOME``) and return the file's path.

    The file is saved as ``cell_images.zip`` (or ``filename``) whatever the URL calls it, and
    its location is noted in ``$SMEARNET_HOME/download.json``, so that commands run without
    ``--data`` find it (see :func:`downloaded_archive`).

    ``sha256`` and ``size`` (None = unchecked) must match before the file gets its final
    name. A file already there is checked and reused. Cut transfers are resumed up to
    ``retries`` times with HTTP Range; the ``.part`` file is kept after a final failure so a
    later call resumes it. Raises :class:`DownloadError` with a one-line reason.
    """
    from tqdm import tqdm

    dest = Path(dest).expanduser() if dest is not None else smearnet_home()
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / (filename or ARCHIVE_NAME)
    part = final.with_name(final.name + ".part")
    if final.exists():
        why = _mismatch(final, size, sha256)
        if why:  # not ours to delete: say so and stop
            raise DownloadError(f"{final} already exists but {why}; move it away to download")
        _record(final)
        return final
    with tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress,
              desc=final.name, leave=False) as bar:
        for attempt in range(retries + 1):
            try:
                if _attempt(url, part, size, timeout, bar):
                    break
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == retries:
                    raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            except DownloadError:
                raise
            except _TRANSIENT as exc:
                if attempt == retries:
                    raise DownloadError(f"{url}: transfer failed after {retries + 1} attempts "
                                        f"({exc}){_resume_hint(part)}") from None
            time.sleep(min(backoff * 2 ** attempt, 30.0))
        else:
            raise DownloadError(f"{url}: transfer incomplete after {retries + 1} attempts"
                                f"{_resume_hint(part)}")
    why = _mismatch(part, size, sha256)
    if why:
        part.unlink()  # never resume from, or rename, bytes that are wrong
        raise DownloadError(f"{url}: {why}; removed the download")
    os.replace(part, final)  # atomic: the final name only ever holds a verified file
    _record(final)
    return final
