"""The query language and the glossary file, without a database: what a query is taken apart into."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel_db.errors import ConfigError
from sentinel_db.search.glossary import (
    Glossary,
    builtin_glossary,
    glossary_for,
    load_glossary_file,
)
from sentinel_db.search.query import FILLER_WORDS, MAX_QUERY_CHARS, ParsedQuery, parse_query


def test_phrases_excluded_words_and_free_words_are_told_apart() -> None:
    parsed = parse_query('encrypt "card data" -backup stored keys')
    assert parsed.phrases == ("card data",)
    assert parsed.excluded == ("backup",)
    assert parsed.words == "encrypt stored keys"
    assert parsed.ranking_text == "encrypt stored keys card data"
    assert parsed.glossary_text.split() == ["encrypt", "card", "data", "stored", "keys"]


def test_a_hyphen_inside_a_word_does_not_exclude_and_blank_phrases_are_dropped() -> None:
    parsed = parse_query('multi-factor "  " -- -x re-authenticate')
    assert parsed.excluded == ("x",)
    assert parsed.phrases == ()
    assert parsed.words == "multi-factor -- re-authenticate"


def test_an_unclosed_quote_is_just_a_word_boundary() -> None:
    parsed = parse_query('"unclosed phrase')
    assert parsed.phrases == () and parsed.words == "unclosed phrase"


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("what does 8.3.6 say", ("8.3.6",)),
        ("a3.2.1 and A1.1", ("A3.2.1", "A1.1")),
        ("12.10.1.2 vs 1.2", ("12.10.1.2", "1.2")),
        ("version 8 or 8. or .8.3", ()),
        ("8.3.6.1.2 is too deep", ()),
        ('"8.3.6" twice 8.3.6', ("8.3.6",)),
        ("inbound from 10.0.0.1 or 0.0.0.0/0 to 8.2", ("8.2",)),
        ("the 10.10.1.0/24 subnet", ()),
    ],
)
def test_control_ids_are_picked_out_whole(text: str, ids: tuple[str, ...]) -> None:
    assert parse_query(text).control_ids == ids


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("is s3-bucket-public-read-prohibited on?", ("s3-bucket-public-read-prohibited",)),
        ("Restricted-Common-Ports rule", ("restricted-common-ports",)),
        ("restricted-ssh has two parts", ()),
        ("two-part names do not count", ()),
        ("-restricted-ssh excluded", ()),
        ("a-b-c and a-b-c", ("a-b-c",)),
    ],
)
def test_rule_names_are_picked_out(text: str, names: tuple[str, ...]) -> None:
    assert parse_query(text).rule_names == names


def test_filler_words_are_set_aside_with_their_punctuation() -> None:
    parsed = parse_query("PCI requirement: how often must we rotate keys?")
    assert parsed.fillers == ("PCI", "requirement:", "often", "must")
    assert parsed.words == "how we rotate keys?"
    assert {"pci", "dss", "requirement", "must"} <= FILLER_WORDS


def test_control_characters_become_spaces_and_long_text_is_cut() -> None:
    assert parse_query("pass\x00word\tkeys").words == "pass word keys"
    long = parse_query("x" * (MAX_QUERY_CHARS + 50))
    assert len(long.text) == MAX_QUERY_CHARS and long.words == "x" * MAX_QUERY_CHARS


def test_a_parsed_query_keeps_the_cleaned_text() -> None:
    assert parse_query("a\x01b") == ParsedQuery(text="a b", words="a b")


def test_glossary_groups_drop_blanks_repeats_and_groups_of_one() -> None:
    glossary = Glossary.from_groups([["mfa", " mfa ", "", "2fa"], ["alone"], [" ", "x"], []])
    assert glossary.groups == (("mfa", "2fa"),)
    both = glossary + Glossary.from_groups([["a", "b"]])
    assert both.groups == (("mfa", "2fa"), ("a", "b"))


def test_a_glossary_file_is_a_list_or_an_object_with_groups(tmp_path: Path) -> None:
    listed = tmp_path / "list.json"
    listed.write_text('[["waf", "web firewall"]]', "utf-8")
    wrapped = tmp_path / "object.json"
    wrapped.write_text('{"groups": [["waf", "web firewall"]], "about": "x"}', "utf-8")
    assert load_glossary_file(listed) == load_glossary_file(wrapped)
    assert load_glossary_file(listed).groups == (("waf", "web firewall"),)
    extended = glossary_for(listed)
    assert extended.groups[: len(builtin_glossary().groups)] == builtin_glossary().groups
    assert extended.groups[-1] == ("waf", "web firewall")
    assert glossary_for(None) is builtin_glossary()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "a glossary is a JSON list of groups"),
        ('{"groups": "x"}', "a glossary is a JSON list of groups"),
        ('[["a", 1]]', "a glossary is a JSON list of groups"),
        ('{"other": []}', "a glossary is a JSON list of groups"),
        ('[["a", "b"]', "1:12: the search glossary is not valid JSON"),
    ],
)
def test_a_bad_glossary_file_names_itself_and_what_is_wrong(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "glossary.json"
    path.write_text(content, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_glossary_file(path)
    assert str(path) in caught.value.message and message in caught.value.message
    if "list of groups" in message:  # and what would be right instead
        assert caught.value.message.endswith(
            '(lists of strings), or an object with such a list under "groups"'
        )


def test_a_missing_glossary_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the search glossary .*: No such file"):
        load_glossary_file(tmp_path / "absent.json")


def test_the_shipped_glossary_loads_every_group() -> None:
    groups = builtin_glossary().groups
    assert groups[0][:2] == ("mfa", "multi-factor authentication")
    assert all(len(g) > 1 for g in groups) and len(groups) > 100
