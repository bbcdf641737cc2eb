"""The CSV layout of docs/csv-layout.md: what is read, and every error naming row and column."""

from __future__ import annotations

import pytest
from scoring_support import item, make_instrument

from app.scoring.csv_responses import ResponsesCsvInvalid, column_letter, parse_responses_csv

INSTRUMENT = make_instrument(
    [
        item("c1", scale="yesno"),
        item("c2", show_if={"item": "c1", "in": ["yes"]}),
        item("p1", required=True),
        item("p2"),
        item("only_peer", domain="b", groups=["peer"]),
    ]
)


def errors(content: str) -> list[str]:
    with pytest.raises(ResponsesCsvInvalid) as raised:
        parse_responses_csv(INSTRUMENT, content)
    assert str(raised.value) == "\n".join(str(e) for e in raised.value.errors)
    return [str(e) for e in raised.value.errors]


def test_reads_a_clean_file():
    content = "respondent,group,c1,c2,p1,p2,only_peer\nF-1,lead,yes,4,5,,\nF-2,peer,no,,3,DK,2\n"
    got = parse_responses_csv(INSTRUMENT, content)
    assert [(r.respondent_id, r.group, r.answers) for r in got] == [
        ("F-1", "lead", {"c1": "yes", "c2": "4", "p1": "5"}),
        ("F-2", "peer", {"c1": "no", "p1": "3", "p2": "DK", "only_peer": "2"}),
    ]


def test_respondent_column_is_optional_and_blank_ids_name_the_row():
    got = parse_responses_csv(INSTRUMENT, "group,p1\nlead,4\n\nstaff,5\n")
    assert [r.respondent_id for r in got] == ["row-2", "row-4"]


def test_forgiving_about_case_labels_bom_whitespace_and_separators():
    inst = make_instrument([item("p1"), item("c1", scale="yesno")])
    content = "\ufeff Group ; P1 ;c1\r\nPEER; 4 ;YES\r\nlead;dk;no\r\n"
    got = parse_responses_csv(inst, content)
    assert [(r.group, r.answers) for r in got] == [
        ("peer", {"p1": "4", "c1": "yes"}),
        ("lead", {"p1": "DK", "c1": "no"}),
    ]


def test_tab_separated():
    got = parse_responses_csv(INSTRUMENT, "group\tp1\nlead\t4\n")
    assert got[0].answers == {"p1": "4"}


def test_group_label_is_accepted():
    inst = make_instrument(
        [item("p1")], groups=("lead", "peer_staff"), group_labels={"peer_staff": "Peer staff"}
    )
    got = parse_responses_csv(inst, "group,p1\npeer staff,4\n")
    assert got[0].group == "peer_staff"


def test_header_errors():
    assert errors("respondent,group,q9,p1,p1,\nx,lead,,4,4,\n") == [
        "row 1, column q9 (C): unknown column 'q9': not an item of instrument test",
        "row 1, column p1 (E): the column 'p1' appears twice",
        "row 1, column F: the column has no header",
    ]


def test_unknown_column_suggests_a_close_item():
    assert errors("group,pp1,p1\nlead,4,4\n") == [
        "row 1, column pp1 (B): unknown column 'pp1': not an item of instrument test; did you mean 'p1'?"
    ]


def test_missing_group_column_stops_early():
    assert errors("respondent,p1\nx,4\n") == ["row 1: the header has no 'group' column (it is required)"]


def test_empty_file_and_header_only():
    assert errors("") == ["row 1: the file is empty; expected a header row"]
    assert errors("group,p1\n\n") == ["row 2: the file has a header but no responses"]


def test_row_errors_name_row_column_and_allowed_values():
    content = (
        "respondent,group,c1,c2,p1,p2,only_peer\n"
        "A,lead,yes,4,7,,\n"  # row 2: bad value
        "B,board,,,4,,\n"  # row 3: unknown group
        "C,lead,no,5,4,,\n"  # row 4: c2 hidden by its condition
        "D,lead,,,4,,3\n"  # row 5: only_peer not asked of lead
        "E,staff,,,,,\n"  # row 6: required p1 blank
        "A,staff,,,4,,\n"  # row 7: repeated respondent
        "F,staff,,,4,,,,\n"  # row 8: too many cells
        "G,,,,4,,\n"  # row 9: blank group
    )
    assert errors(content) == [
        "row 2, column p1 (E): '7' is not an answer to p1; allowed: 1, 2, 3, 4, 5, DK, NA "
        "(or blank for no answer)",
        "row 3, column group (B): group 'board' is not a respondent group; allowed: lead, staff, peer",
        "row 4, column c2 (D): item c2 is only asked when c1 is one of: yes (leave c2 blank)",
        "row 5, column only_peer (G): item only_peer is not asked of group lead",
        "row 6, column p1 (E): item p1 is required for group staff but is blank",
        "row 7, column respondent (A): respondent 'A' already appears in row 2",
        "row 8: the row has 9 cells but the header has 7 columns",
        "row 9, column group (B): group is blank; allowed: lead, staff, peer",
    ]


def test_required_item_without_a_column():
    assert errors("group,p2\nlead,4\n") == [
        "row 2, column p1: item p1 is required for group lead but has no column"
    ]


def test_an_invalid_source_does_not_cascade():
    assert errors("group,c1,c2,p1\nlead,maybe,4,4\n") == [
        "row 2, column c1 (B): 'maybe' is not an answer to c1; allowed: yes, no, DK (or blank for no answer)"
    ]


def test_not_in_condition_message():
    inst = make_instrument([item("c1", scale="yesno"), item("c3", show_if={"item": "c1", "not_in": ["no"]})])
    with pytest.raises(ResponsesCsvInvalid) as raised:
        parse_responses_csv(inst, "group,c1,c3\nlead,no,4\n")
    assert [str(e) for e in raised.value.errors] == [
        "row 2, column c3 (C): item c3 is only asked when c1 is answered and is not one of: no "
        "(leave c3 blank)"
    ]


@pytest.mark.parametrize(
    "index, letter", [(0, "A"), (25, "Z"), (26, "AA"), (51, "AZ"), (52, "BA"), (701, "ZZ"), (702, "AAA")]
)
def test_column_letters(index, letter):
    assert column_letter(index) == letter
