"""The parser registry, ParseError, and the promise every parser keeps: data or ParseError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook_tui.errors import RunbookError
from runbook_tui.parsers import PARSER_NAMES, PARSERS, ParseError, _load, get_parser

CAPTURED = Path(__file__).parent / "data" / "captured"

# A realistic sample per parser: mutations of it reach deeper than random text does.
SAMPLES = {
    "haproxy.servers_state": "haproxy-2.6_show_servers_state.txt",
    "haproxy.stat": "haproxy-2.6_show_stat.csv",
    "haproxy.check": "haproxy-2.6_check_invalid.txt",
    "freebsd.sockstat": "freebsd_sockstat_l.txt",
    "pfctl.rdr": "freebsd_pfctl_sn.txt",
    "ss.listening": "iproute2-6.1_ss_ltnp.txt",
    "maillog.connect_from": "postfix_maillog.txt",
    "pfsense.config": "pfsense_config.xml",
}


def test_every_spec_parser_is_registered():
    assert set(PARSER_NAMES) == {
        "haproxy.servers_state", "haproxy.stat", "haproxy.check", "freebsd.sockstat",
        "pfctl.rdr", "ss.listening", "maillog.connect_from", "pfsense.config",
    }
    assert set(PARSERS) == set(PARSER_NAMES) == set(SAMPLES)
    assert list(PARSER_NAMES) == sorted(PARSER_NAMES)


def test_get_parser_returns_a_working_parser():
    result = get_parser("ss.listening")("LISTEN 0 128 127.0.0.1:2525 0.0.0.0:*\n")
    assert result["ports"] == [2525]


@pytest.mark.parametrize("name", ["nope", "haproxy", "", "HAPROXY.STAT"])
def test_unknown_parser_name_is_a_parse_error_listing_known_names(name):
    with pytest.raises(ParseError) as caught:
        get_parser(name)
    message = str(caught.value)
    assert repr(name) in message
    for known in PARSER_NAMES:
        assert known in message
    assert isinstance(caught.value, RunbookError)
    assert "\n" not in message


def test_parse_error_carries_line_and_title():
    with pytest.raises(ParseError) as caught:
        get_parser("haproxy.servers_state")("1\n# be_id be_name\n")
    assert caught.value.line == 2
    assert caught.value.title == "Unexpected output"


def test_parsers_refuse_non_text():
    for name in PARSER_NAMES:
        with pytest.raises(ParseError, match="reads text"):
            get_parser(name)(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_registered_parser_reads_its_sample_into_json(name):
    data = get_parser(name)((CAPTURED / SAMPLES[name]).read_text())
    assert json.loads(json.dumps(data)) == data


def _assert_data_or_parse_error(name: str, text: str) -> None:
    try:
        result = _load(name)(text)  # the raw function: the registry's safety net must not hide bugs
    except ParseError as err:
        assert str(err) and "\n" not in str(err)
        return
    json.dumps(result)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(SAMPLES))
@FUZZ
@given(text=st.text())
def test_arbitrary_text_gives_data_or_parse_error(name, text):
    _assert_data_or_parse_error(name, text)


_edits = st.lists(
    st.tuples(
        st.sampled_from(["delete", "duplicate", "truncate", "insert", "swap_tokens", "crlf"]),
        st.integers(min_value=0, max_value=10_000),
        st.text(max_size=12),
    ),
    max_size=4,
)


def _mutate(text: str, edits: list[tuple[str, int, str]]) -> str:
    lines = text.split("\n")
    for kind, where, junk in edits:
        i = where % len(lines)
        line = lines[i]
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "truncate":
            lines[i] = line[: where % (len(line) + 1)]
        elif kind == "insert":
            cut = where % (len(line) + 1)
            lines[i] = line[:cut] + junk + line[cut:]
        elif kind == "swap_tokens":
            tokens = line.split(" ")
            tokens.reverse()
            lines[i] = " ".join(tokens)
        else:
            lines[i] = line + "\r"
        if not lines:
            lines = [""]
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(SAMPLES))
@FUZZ
@given(edits=_edits)
def test_mutated_real_output_gives_data_or_parse_error(name, edits):
    _assert_data_or_parse_error(name, _mutate((CAPTURED / SAMPLES[name]).read_text(), edits))


def test_registry_turns_a_parser_bug_into_a_parse_error(monkeypatch):
    import runbook_tui.parsers.ss_listening as module

    def broken(text: str) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(module, "parse", broken)
    with pytest.raises(ParseError, match="ss.listening parser could not read"):
        get_parser("ss.listening")("anything")
