"""Tests for headwater.naming (spec: naming.md, NAME-1 to NAME-31)."""

from __future__ import annotations

import doctest
import re
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import headwater.naming
from headwater.destinations.base import fold_ascii as identity
from headwater.destinations.duckdb import quote
from headwater.naming import (
    FIVETRAN,
    SOURCE,
    SYSTEM_COLUMNS,
    Naming,
    fivetran_name,
    is_system_column,
    parse_convention,
)

# NAME-11: (source name, column rule, table rule or None when the table rule gives the same).
NAME_11 = [
    ("message", "message", None),
    ("firstName", "first_name", None),
    ("FirstName", "first_name", None),
    ("First Name", "first_name", None),
    ("userID", "user_id", None),
    ("HTTPServer", "http_server", None),
    ("getHTTPResponseCode", "get_http_response_code", None),
    ("XMLHttpRequest", "xml_http_request", None),
    ("iPhone", "i_phone", None),
    ("ABC", "abc", None),
    ("address1", "address1", None),
    ("Area51Zone", "area51_zone", None),
    ("v2API", "v2_api", None),
    ("3DModel", "_3_d_model", None),
    ("123abc", "_123abc", None),
    ("1st Place", "_1st_place", None),
    ("user.email", "user_email", None),
    ("user-email", "user_email", None),
    ("user  email", "user_email", None),
    ("__private", "_private", "private"),
    ("_bool", "_bool", "bool"),
    ("$price", "_price", "price"),
    ("Amount (USD)", "amount_usd_", None),
    ("total$amount", "total_amount", None),
    ("café", "cafe", None),
    ("Crème Brûlée", "creme_brulee", None),
    ("Straße", "strasse", None),
    ("naïve_Date", "naive_date", None),
    ("x²", "x2", None),
    ("emoji\N{GRINNING FACE}col", "emoji_col", None),
    ("tab\tname", "tab_name", None),
    ("order", "order", None),
    ("SELECT", "select", None),
    ("UPPER_SNAKE_CASE", "upper_snake_case", None),
    ("a.b.c", "a_b_c", None),
    ("%", "_", "_"),
    ("名前", "_", "_"),
    ("_123", "_123", "_123"),
]
NAME_11_IDS = [f"row{i}" for i in range(1, len(NAME_11) + 1)]


def test_name_11_table_has_all_38_rows_including_tab_and_double_space() -> None:
    assert len(NAME_11) == 38
    assert NAME_11[18][0] == "user" + " " * 2 + "email"
    assert NAME_11[30][0] == "tab" + chr(9) + "name"


@pytest.mark.parametrize(("source", "column", "table"), NAME_11, ids=NAME_11_IDS)
def test_name_11_example_column_rule(source: str, column: str, table: str | None) -> None:
    assert fivetran_name(source) == column
    assert fivetran_name(source, table=False) == column
    assert Naming().column(source) == column


@pytest.mark.parametrize(("source", "column", "table"), NAME_11, ids=NAME_11_IDS)
def test_name_11_example_table_rule(source: str, column: str, table: str | None) -> None:
    expected = column if table is None else table
    assert fivetran_name(source, table=True) == expected
    assert Naming().table(source) == expected
    assert Naming(FIVETRAN).schema(source) == expected


# --- NAME-10 step by step ---------------------------------------------------------------------


def test_camel_case_acronym_is_split_before_last_capital() -> None:
    assert fivetran_name("parseJSONData") == "parse_json_data"
    assert fivetran_name("ABCDef") == "abc_def"


def test_lower_case_letter_followed_by_capital_is_split() -> None:
    assert fivetran_name("aB") == "a_b"


def test_digit_followed_by_capital_is_split() -> None:
    assert fivetran_name("route66East") == "route66_east"


def test_letter_followed_by_digit_is_not_split() -> None:
    assert fivetran_name("Zone51") == "zone51"
    assert fivetran_name("ABC123") == "abc123"


def test_digit_followed_by_lower_case_letter_is_not_split() -> None:
    assert fivetran_name("x1y") == "x1y"


def test_trailing_acronym_is_not_split() -> None:
    assert fivetran_name("userIDS") == "user_ids"


def test_existing_underscore_before_capital_is_not_doubled() -> None:
    assert fivetran_name("user_Name") == "user_name"
    assert fivetran_name("USER__NAME") == "user_name"


@pytest.mark.parametrize(
    ("letter", "replacement"),
    [("ß", "ss"), ("æ", "ae"), ("œ", "oe"), ("ø", "o"), ("đ", "d"), ("ð", "d"), ("þ", "th"),
     ("ł", "l"), ("ı", "i")],
)  # fmt: skip
def test_listed_lower_case_letters_are_transliterated(letter: str, replacement: str) -> None:
    assert fivetran_name(f"a{letter}b") == f"a{replacement}b"


@pytest.mark.parametrize(
    ("letter", "replacement"),
    [("ẞ", "SS"), ("Æ", "AE"), ("Œ", "OE"), ("Ø", "O"), ("Đ", "D"), ("Ð", "D"), ("Þ", "TH"),
     ("Ł", "L")],
)  # fmt: skip
def test_listed_upper_case_letters_are_transliterated(letter: str, replacement: str) -> None:
    # Surrounded by capitals so that step 3 inserts nothing.
    assert fivetran_name(f"X{letter}Y") == f"x{replacement.lower()}y"


def test_upper_case_transliteration_takes_part_in_camel_case_split() -> None:
    # "Æ" becomes "AE" in step 1, before camelCase splitting in step 3.
    assert fivetran_name("xÆther") == "x_a_ether"
    assert fivetran_name("ÞOR") == "thor"


def test_combining_marks_are_removed_before_letter_replacement() -> None:
    # "ǿ" decomposes to "ø" + U+0301; the mark is dropped, then "ø" -> "o".
    assert fivetran_name("\N{LATIN SMALL LETTER O WITH STROKE AND ACUTE}l") == "ol"


def test_compatibility_characters_are_decomposed() -> None:
    assert fivetran_name("\N{LATIN SMALL LIGATURE FI}eld") == "field"
    assert fivetran_name("co₂") == "co2"
    assert fivetran_name("H₂O") == "h2_o"  # "H2O": a digit then a capital is split in step 3
    assert fivetran_name("\N{FULLWIDTH LATIN CAPITAL LETTER A}bc") == "abc"


def test_decomposed_input_equals_precomposed_input() -> None:
    assert fivetran_name("cafe\N{COMBINING ACUTE ACCENT}") == fivetran_name("café") == "cafe"


def test_non_ascii_letters_without_ascii_decomposition_become_underscore() -> None:
    assert fivetran_name("имя") == "_"
    assert fivetran_name("user_имя") == "user_"
    assert fivetran_name("x٣") == "x_"  # a non-ASCII digit is not a digit here


def test_name_of_only_combining_marks_becomes_single_underscore() -> None:
    # Step 1 removes everything; headwater yields "_" rather than an empty identifier.
    assert fivetran_name("\N{COMBINING ACUTE ACCENT}") == "_"
    assert fivetran_name("\N{COMBINING ACUTE ACCENT}", table=True) == "_"


def test_surrounding_whitespace_is_not_trimmed() -> None:
    assert fivetran_name(" name ") == "_name_"
    assert fivetran_name(" name ", table=True) == "name_"


def test_leading_digit_is_prefixed_with_underscore_for_tables_too() -> None:
    assert fivetran_name("2024sales", table=True) == "_2024sales"


def test_column_keeps_leading_underscore_but_table_drops_it() -> None:
    assert fivetran_name("_id") == "_id"
    assert fivetran_name("_id", table=True) == "id"
    naming = Naming()
    assert (naming.column("-id"), naming.table("-id"), naming.schema("-id")) == ("_id", "id", "id")


def test_table_keeps_leading_underscore_before_digit_or_alone() -> None:
    assert fivetran_name("_1", table=True) == "_1"
    assert fivetran_name("_", table=True) == "_"
    assert fivetran_name(".", table=True) == "_"


@pytest.mark.parametrize("keyword", ["order", "select", "group", "desc"])
def test_sql_keywords_are_kept(keyword: str) -> None:
    assert fivetran_name(keyword) == keyword
    assert fivetran_name(keyword, table=True) == keyword


@pytest.mark.parametrize("name", sorted(SYSTEM_COLUMNS))
def test_system_column_names_are_unchanged_by_column_rule(name: str) -> None:
    assert fivetran_name(name) == name


def test_default_schema_name_is_unchanged() -> None:
    assert Naming().schema("tester") == "tester"


def test_long_names_are_not_truncated() -> None:
    name = "a" * 10_000
    assert fivetran_name(name) == name


def test_different_source_names_can_share_a_destination_name() -> None:
    naming = Naming()
    assert naming.table("userData") == naming.table("user_data") == "user_data"
    assert naming.column("firstName") == naming.column("first_name") == "first_name"


# --- SOURCE convention ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["firstName", "Crème Brûlée", "名前", " padded ", "_bool", "say \"hi\"", "tab\tname", "ORDER", "😀"],
)
def test_source_convention_keeps_names_exactly(name: str) -> None:
    naming = Naming(SOURCE)
    assert naming.convention == SOURCE
    assert naming.column(name) == name
    assert naming.table(name) == name
    assert naming.schema(name) == name


def test_default_convention_is_fivetran() -> None:
    assert Naming().convention == FIVETRAN


def test_naming_accepts_any_spelling_parse_convention_accepts() -> None:
    assert Naming("source_naming").convention == SOURCE


def test_naming_refuses_unknown_convention() -> None:
    with pytest.raises(ValueError, match="naming"):
        Naming("snake")


def test_naming_convention_is_read_only() -> None:
    naming = Naming()
    with pytest.raises(AttributeError):
        naming.convention = SOURCE  # type: ignore[misc]


# --- parse_convention -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("FIVETRAN", FIVETRAN),
        ("fivetran", FIVETRAN),
        ("Fivetran", FIVETRAN),
        ("FIVETRAN_NAMING", FIVETRAN),
        ("fivetran_naming", FIVETRAN),
        ("  fivetran\n", FIVETRAN),
        ("SOURCE", SOURCE),
        ("Source", SOURCE),
        ("source_naming", SOURCE),
        ("\tSOURCE_NAMING ", SOURCE),
    ],
)
def test_parse_convention_accepts_names_case_insensitively(value: str, expected: str) -> None:
    assert parse_convention(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "   ", "fivetrans", "src", "naming", "_naming", "FIVETRAN NAMING", "source-naming", "SOURCE_"],
)
def test_parse_convention_refuses_other_values_with_helpful_message(value: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_convention(value)
    message = str(raised.value)
    assert "naming" in message
    assert repr(value) in message
    assert FIVETRAN in message
    assert SOURCE in message


# --- quote, identity, system columns ----------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "quoted"),
    [
        ("order", '"order"'),
        ("first_name", '"first_name"'),
        ('say "hi"', '"say ""hi"""'),
        ('"', '""""'),
        ("名前", '"名前"'),
        ("it's", '"it\'s"'),
    ],
)
def test_quote_wraps_in_double_quotes_and_doubles_embedded_quotes(identifier: str, quoted: str) -> None:
    assert quote(identifier) == quoted


def test_quoted_keywords_and_embedded_quotes_work_in_duckdb() -> None:
    duckdb = pytest.importorskip("duckdb")
    names = ["order", "select", 'say "hi"', "Crème Brûlée", "tab\tname"]
    connection = duckdb.connect()
    try:
        columns = ", ".join(f"{quote(name)} INTEGER" for name in names)
        connection.execute(f"CREATE TABLE {quote('group')} ({columns})")
        described = connection.execute(f"DESCRIBE {quote('group')}").fetchall()
    finally:
        connection.close()
    assert [row[0] for row in described] == names


@pytest.mark.parametrize(
    "name", ["_fivetran_synced", "_FIVETRAN_SYNCED", "_Fivetran_Deleted", "_fivetran_ID", "_FiVeTrAn_Id"]
)
def test_system_column_check_ignores_case(name: str) -> None:
    assert is_system_column(name)


@pytest.mark.parametrize(
    "name", ["fivetran_synced", "_fivetran_synced_at", "_fivetran", "__fivetran_id", " _fivetran_id", "id"]
)
def test_other_names_are_not_system_columns(name: str) -> None:
    assert not is_system_column(name)


def test_system_columns_are_the_three_documented_names() -> None:
    assert frozenset({"_fivetran_synced", "_fivetran_deleted", "_fivetran_id"}) == SYSTEM_COLUMNS


def test_identity_ignores_case() -> None:
    assert identity("UserData") == identity("userdata") == "userdata"
    assert identity("Name") == identity("NAME")
    assert identity("a") != identity("b")


def test_module_docstring_examples_run() -> None:
    result = doctest.testmod(headwater.naming, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


# --- properties -------------------------------------------------------------------------------

_INTERESTING = list("aAzZbB09_ .-$%\t") + [
    "ß", "ẞ", "æ", "Æ", "ø", "Ð", "þ", "ł", "ı", "²", "ﬁ", "é", "\N{COMBINING ACUTE ACCENT}",
    "名", "😀", "и", "Ǆ", "ǿ",
]  # fmt: skip
names = st.one_of(
    st.text(min_size=1),
    st.text(alphabet=st.sampled_from(_INTERESTING), min_size=1, max_size=30),
)
_OUTPUT = re.compile(r"[a-z0-9_]+")

_STEP_1_LETTERS = {
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ł": "l", "Ł": "L", "ı": "i",
}  # fmt: skip


def _reference_fivetran_name(name: str, *, table: bool = False) -> str:
    """NAME-10 read literally, one step at a time and character by character, as an oracle."""
    # 1. Transliterate.
    text = "".join(
        _STEP_1_LETTERS.get(c, c)
        for c in unicodedata.normalize("NFKD", name)
        if unicodedata.category(c) != "Mn"
    )
    # 2. Replace.
    text = "".join(c if (c.isascii() and c.isalnum()) or c == "_" else "_" for c in text)
    # 3. Split camelCase.
    out = []
    for i, c in enumerate(text):
        if i > 0 and c.isupper():
            prev = text[i - 1]
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower()):
                out.append("_")
        out.append(c)
    text = "".join(out)
    # 4. Collapse.
    while "__" in text:
        text = text.replace("__", "_")
    # 5. Lower-case.
    text = text.lower()
    # Not in NAME-10: a name step 1 empties entirely becomes "_" (headwater decision).
    text = text or "_"
    # 6. Leading digit.
    if text[0].isdigit():
        text = "_" + text
    # 7. Tables and schemas only.
    if table and len(text) > 1 and text[0] == "_" and text[1].isalpha():
        text = text[1:]
    return text


@given(names, st.booleans())
@example("3DModel", False)
@example("__private", True)
def test_fivetran_name_matches_literal_reading_of_the_steps(name: str, table: bool) -> None:
    assert fivetran_name(name, table=table) == _reference_fivetran_name(name, table=table)


@given(names, st.booleans())
def test_fivetran_name_output_only_contains_lower_ascii_digits_and_underscore(
    name: str, table: bool
) -> None:
    assert _OUTPUT.fullmatch(fivetran_name(name, table=table))


@given(names, st.booleans())
def test_fivetran_name_output_never_has_double_underscore(name: str, table: bool) -> None:
    assert "__" not in fivetran_name(name, table=table)


@given(names, st.booleans())
def test_fivetran_name_output_never_starts_with_digit(name: str, table: bool) -> None:
    assert not fivetran_name(name, table=table)[0].isdigit()


# Idempotence holds for both rules. The output has no upper-case letters (step 3 and the
# transliteration of step 1 have nothing to act on), no characters outside [a-z0-9_] (step 2 does
# nothing), no "__" (step 4 does nothing) and no leading digit (step 6 does nothing). For the table
# rule, the output does not start with "_" + letter (step 7 does nothing), and the column rule
# never produces a leading digit that the table rule could expose.
@given(names)
def test_fivetran_name_column_rule_is_idempotent(name: str) -> None:
    once = fivetran_name(name)
    assert fivetran_name(once) == once


@given(names)
def test_fivetran_name_table_rule_is_idempotent(name: str) -> None:
    once = fivetran_name(name, table=True)
    assert fivetran_name(once, table=True) == once


@given(names)
def test_table_rule_output_never_starts_with_underscore_then_letter(name: str) -> None:
    assert not re.match(r"_[a-z]", fivetran_name(name, table=True))


@given(names)
def test_table_rule_differs_from_column_rule_only_by_leading_underscore(name: str) -> None:
    column = fivetran_name(name)
    table = fivetran_name(name, table=True)
    assert table == column or "_" + table == column


@given(st.lists(names, max_size=20))
def test_naming_cache_gives_same_results_as_pure_function(batch: list[str]) -> None:
    naming = Naming(FIVETRAN)
    for _ in range(2):  # the second pass is served from the caches
        for name in batch:
            assert naming.column(name) == fivetran_name(name)
            assert naming.table(name) == fivetran_name(name, table=True)
            assert naming.schema(name) == fivetran_name(name, table=True)


@given(st.lists(names, max_size=20))
def test_naming_source_convention_returns_every_name_unchanged(batch: list[str]) -> None:
    naming = Naming(SOURCE)
    for name in batch:
        assert naming.column(name) is name
        assert naming.table(name) is name
        assert naming.schema(name) is name


def test_identity_folds_only_ascii_letters_like_duckdb() -> None:
    duckdb = pytest.importorskip("duckdb")
    assert identity("UserID") == identity("userid")
    assert identity("Äb") != identity("äb")
    con = duckdb.connect()
    con.execute('CREATE TABLE t ("Äb" INTEGER, "äb" INTEGER)')  # two columns for DuckDB too
    with pytest.raises(duckdb.Error):
        con.execute('CREATE TABLE u ("AB" INTEGER, "ab" INTEGER)')
