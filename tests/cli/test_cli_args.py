"""Every numeric and path flag of every verb is checked while parsing: a bad value is one line
on stderr, exit code 2, no traceback; OSErrors about user paths are one line too."""

from __future__ import annotations

import argparse
import warnings

import pytest

from smearnet.cli import args as cli_args
from smearnet.cli import build_parser, main

NUMERIC = {cli_args.positive_int, cli_args.non_negative_int, cli_args.positive_float,
           cli_args.fraction}


def _walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(argv prefix, action) for every action of every (sub)command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, prefix + (name,))
        else:
            yield prefix, action


def _is_numeric(action: argparse.Action) -> bool:
    return action.type in NUMERIC or getattr(action.type, "__name__", "").startswith("int_at_least")


def _numeric_flags():
    return [(prefix, a) for prefix, a in _walk(build_parser()) if a.option_strings and _is_numeric(a)]


def test_no_flag_parses_bare_int_or_float():
    bare = [(" ".join(p), a.option_strings) for p, a in _walk(build_parser()) if a.type in (int, float)]
    assert bare == []


def test_the_walk_finds_the_numeric_flags_of_every_verb():
    found = {(" ".join(p), a.option_strings[0]) for p, a in _numeric_flags()}
    for want in [("train", "--epochs"), ("train", "--seed"), ("train", "--image-size"), ("train", "--cv"),
                 ("evaluate", "--batch-size"), ("explain", "--samples"), ("data cache", "--image-size"),
                 ("data cache", "--workers"), ("data samples", "--n"), ("data samples", "--cols"),
                 ("data split", "--limit"), ("data split", "--k"), ("data split", "--fractions"),
                 ("data download", "--size"), ("backprop", "--seed"), ("backprop", "--threads")]:
        assert want in found


def _one_line_exit_2(capsys, argv):
    code = main(argv)
    cap = capsys.readouterr()
    assert code == 2, (argv, code, cap.err)
    assert cap.err.count("\n") == 1 and cap.err.startswith("smearnet "), (argv, cap.err)
    assert "Traceback" not in cap.err + cap.out
    assert cap.out == "", (argv, cap.out)  # refused before any work
    return cap.err


@pytest.mark.parametrize("prefix,action", _numeric_flags(),
                         ids=lambda v: " ".join(v) if isinstance(v, tuple) else v.option_strings[0])
def test_every_numeric_flag_rejects_bad_values(prefix, action, capsys):
    flag = action.option_strings[0]
    bad = ["-3", "-1", "abc", "1e999", "nan"]
    if action.type not in (cli_args.non_negative_int, cli_args.fraction):
        bad.append("0")
    n = action.nargs if isinstance(action.nargs, int) else 1
    for value in bad:
        err = _one_line_exit_2(capsys, [*prefix, flag, *([value] * n)])
        assert flag in err


@pytest.mark.parametrize("argv", [
    ["explain", "IMG", "--out", "{file}"],
    ["train", "--out", "{file}"],
    ["backprop", "--bench", "--out", "{file}"],
    ["data", "download", "--dest", "{file}"],
    ["data", "download", "--dest", "{file}/sub"],
    ["predict", "IMG", "--csv", "{dir}"],
    ["data", "samples", "--out", "{dir}"],
    ["data", "split", "--out", "{dir}"],
    ["data", "split", "--out", "{file}/x.json"],
    ["data", "download", "--url", "notaurl"],
    ["data", "download", "--sha256", "xyz"],
])
def test_bad_output_paths_and_urls_are_refused_up_front(argv, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    argv = [a.format(file=tmp_path / "f", dir=tmp_path / "d") for a in argv]
    _one_line_exit_2(capsys, argv)


def _with_func(monkeypatch, func):
    parser = build_parser()
    monkeypatch.setattr("smearnet.cli.build_parser", lambda: parser)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["report"].set_defaults(func=func)


@pytest.mark.parametrize("exc", [
    FileExistsError(17, "File exists", "/x/out"), IsADirectoryError(21, "Is a directory", "/x/out"),
    NotADirectoryError(20, "Not a directory", "/x/out"), PermissionError(13, "Permission denied", "/x/out"),
    FileNotFoundError(2, "No such file or directory", "/x/out")])
def test_oserror_about_a_user_path_is_one_line(exc, monkeypatch, capsys):
    def func(args):
        raise exc
    _with_func(monkeypatch, func)
    err = _one_line_exit_2(capsys, ["report", "RUN"])
    assert err.startswith("smearnet report: error: /x/out: ") and exc.strerror.lower() in err


@pytest.mark.parametrize("exc", [KeyError("bug"), OSError("no filename"), FileNotFoundError("no filename")])
def test_programming_errors_still_raise(exc, monkeypatch):
    def func(args):
        raise exc
    _with_func(monkeypatch, func)
    with pytest.raises(type(exc)):
        main(["report", "RUN"])


def test_warnings_have_one_format_in_every_verb(monkeypatch, capsys):
    def func(args):
        warnings.warn("skipped a.png: truncated", UserWarning)
        return 0
    _with_func(monkeypatch, func)
    assert main(["report", "RUN"]) == 0
    assert capsys.readouterr().err == "warning: skipped a.png: truncated\n"
