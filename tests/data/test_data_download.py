"""Download against a server on 127.0.0.1 that the test starts, serving a zip it builds."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from smearnet.data import DownloadError, download, index_source


class ArchiveServer(ThreadingHTTPServer):
    """Serves ``payload`` at any path, honouring ``Range: bytes=N-``.

    cut_after: on the next request, send only this many bytes of the body then drop the
    connection (the headers still promise the whole length). corrupt: flip one byte.
    ignore_range: answer every request with the whole file (200).
    """

    daemon_threads = True

    def __init__(self, payload: bytes):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.payload = payload
        self.cut_after: int | None = None
        self.corrupt = False
        self.ignore_range = False
        self.requests: list[str | None] = []  # the Range header of each request

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/public/Malaria/cell_images.zip"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        srv: ArchiveServer = self.server
        rng = self.headers.get("Range")
        srv.requests.append(rng)
        body = bytearray(srv.payload)
        if srv.corrupt:
            body[len(body) // 3] ^= 0xFF
        start = 0
        if rng and not srv.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Content-Type", "application/zip")
        self.end_headers()
        data = bytes(body[start:])
        if srv.cut_after is not None:
            data, srv.cut_after = data[:srv.cut_after], None
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)


@pytest.fixture
def archive(tmp_path_factory, synth):
    """A small cell_images.zip (real PNGs plus filler so the transfer spans many chunks)."""
    tmp_path = tmp_path_factory.mktemp("archive")  # tests' own tmp_path stays the download folder
    root = tmp_path / "src"
    synth.make_tree(root, per_slide=1)
    filler = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    zp = synth.zip_tree(root, tmp_path / "built.zip", prefix="cell_images/",
                        extra={"cell_images/Parasitized/Thumbs.db": filler})
    return zp.read_bytes()


@pytest.fixture
def server(archive):
    srv = ArchiveServer(archive)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _expect(payload: bytes) -> dict:
    return {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}


def test_full_download_checked_and_usable(server, archive, tmp_path):
    dest = tmp_path / "dl"
    path = download(server.url, dest=dest, progress=False, backoff=0, **_expect(archive))
    assert path == dest / "cell_images.zip" and path.read_bytes() == archive
    assert not list(dest.glob("*.part"))
    assert server.requests == [None]
    assert len(index_source(path)) > 0  # the downloaded archive is a source as it is
    again = download(server.url, dest=dest, progress=False, backoff=0, **_expect(archive))
    assert again == path and server.requests == [None]  # already there and valid: no request


def test_cut_transfer_resumes_with_range(server, archive, tmp_path):
    server.cut_after = 100_000
    path = download(server.url, dest=tmp_path, progress=False, backoff=0, **_expect(archive))
    assert path.read_bytes() == archive
    assert server.requests == [None, "bytes=100000-"]


def test_interrupted_download_resumes_on_the_next_call(server, archive, tmp_path):
    server.cut_after = 123_456
    with pytest.raises(DownloadError, match="run again to resume"):
        download(server.url, dest=tmp_path, progress=False, retries=0, backoff=0,
                 **_expect(archive))
    part = tmp_path / "cell_images.zip.part"
    assert part.stat().st_size == 123_456 and not (tmp_path / "cell_images.zip").exists()
    path = download(server.url, dest=tmp_path, progress=False, backoff=0, **_expect(archive))
    assert path.read_bytes() == archive and not part.exists()
    assert server.requests[-1] == "bytes=123456-"


def test_server_ignoring_range_restarts_cleanly(server, archive, tmp_path):
    server.cut_after, server.ignore_range = 50_000, True
    path = download(server.url, dest=tmp_path, progress=False, backoff=0, **_expect(archive))
    assert path.read_bytes() == archive


def test_corrupted_byte_refused_and_nothing_kept(server, archive, tmp_path):
    server.corrupt = True
    with pytest.raises(DownloadError, match="SHA-256") as e:
        download(server.url, dest=tmp_path, progress=False, backoff=0, **_expect(archive))
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []  # no final file, no .part to resume garbage from


def test_wrong_size_refused(server, archive, tmp_path):
    with pytest.raises(DownloadError, match="expected"):
        download(server.url, dest=tmp_path, progress=False, backoff=0,
                 sha256=None, size=len(archive) + 1)
    assert not (tmp_path / "cell_images.zip").exists()


def test_existing_wrong_file_is_not_overwritten(server, archive, tmp_path):
    (tmp_path / "cell_images.zip").write_bytes(b"someone else's file")
    with pytest.raises(DownloadError, match="already exists"):
        download(server.url, dest=tmp_path, progress=False, backoff=0, **_expect(archive))
    assert (tmp_path / "cell_images.zip").read_bytes() == b"someone else's file"


def test_http_error_is_one_line(tmp_path):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)  # no do_GET: HTTP 501
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        with pytest.raises(DownloadError, match="HTTP 501") as e:
            download(f"http://127.0.0.1:{srv.server_address[1]}/a.zip", dest=tmp_path,
                     progress=False, backoff=0, retries=0, sha256=None, size=None)
    finally:
        srv.shutdown()
        srv.server_close()
    assert "\n" not in str(e.value) and list(tmp_path.iterdir()) == []


def test_cli_download_with_mirror_url(server, archive, tmp_path, capsys):
    from smearnet.cli import main

    exp = _expect(archive)
    rc = main(["data", "download", "--url", server.url, "--dest", str(tmp_path),
               "--sha256", exp["sha256"], "--size", str(exp["size"])])
    assert rc == 0 and (tmp_path / "cell_images.zip").read_bytes() == archive
    assert "SHA-256 checked" in capsys.readouterr().out
    server.corrupt = True
    rc = main(["data", "download", "--url", server.url, "--dest", str(tmp_path / "b"),
               "--sha256", exp["sha256"]])
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert rc == 2 and last.startswith("smearnet data download: error: http://127.0.0.1")
    assert "SHA-256" in last and "removed the download" in last


def test_no_network_does_not_promise_a_resume(tmp_path):
    # nothing listens on this port: the first byte never arrives, so nothing can be resumed
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as err:
        download(f"http://127.0.0.1:{port}/cell_images.zip", dest=tmp_path, progress=False,
                 retries=0, backoff=0, sha256=None, size=None)
    assert "resume" not in str(err.value)
    assert not (tmp_path / "cell_images.zip.part").exists()


@pytest.mark.parametrize("dest", [None, "elsewhere"])
def test_downloaded_archive_is_found_without_data_whatever_the_url_calls_it(server, archive, tmp_path,
                                                                          capsys, monkeypatch, dest):
    """A mirror's ds.zip is saved as cell_images.zip and noted, so `data summary` and `train`
    without --data find it, in $SMEARNET_HOME or any --dest."""
    from smearnet.cli import main
    from smearnet.data import default_source

    monkeypatch.setenv("SMEARNET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SMEARNET_DATA", raising=False)
    exp = _expect(archive)
    url = server.url.replace("cell_images.zip", "ds.zip")
    argv = ["data", "download", "--url", url, "--sha256", exp["sha256"]]
    if dest:
        argv += ["--dest", str(tmp_path / dest)]
    assert main(argv) == 0
    saved = (tmp_path / dest if dest else tmp_path / "home") / "cell_images.zip"
    assert saved.read_bytes() == archive
    assert Path(default_source()).resolve() == saved.resolve()
    capsys.readouterr()
    assert main(["data", "summary"]) == 0
    assert str(saved.resolve()) in capsys.readouterr().out
