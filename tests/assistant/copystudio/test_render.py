"""The tab's HTML: every claim marked by whether the data backs it, everything escaped."""

from assistant.config import CopySettings
from assistant.copystudio.protocol import CopyControls, CopyRequest
from assistant.copystudio.service import CopyService
from assistant.generation.fake import FakeGenerator
from assistant.grounding.claims import ClaimChecker
from assistant.ui.copy_tab import highlight, render_copy, render_report


def test_claims_are_marked_and_markup_is_escaped():
    attrs = {"Title": "Mug <b>", "Colour": "white"}
    text = "A <script>alert(1)</script> white mug, not black."
    html = highlight(text, ClaimChecker(attrs).claims(text))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<mark class='claim-ok' title='colour'>white</mark>" in html
    assert "<mark class='claim-bad' title='colour: the attributes say white'>black</mark>" in html


def test_the_report_shows_outcome_coverage_and_the_drafts_flagged_claims():
    attrs = {"Title": "Mug", "Brand": "Kiln", "Colour": "white", "Capacity": "350 ml"}
    gen = FakeGenerator(
        ["A black mug that holds 500 ml. It is lovely for slow mornings at home with friends."] * 2
    )
    result = CopyService(gen, {}, settings=CopySettings(candidates=1)).run(
        CopyRequest(attributes=attrs, controls=CopyControls(form="bullets"))
    )
    copy_html, report = render_copy(result), render_report(result)
    assert (
        "claim-bad" not in copy_html
        and "- Brand: <mark class='claim-ok' title='brand'>Kiln</mark>" not in copy_html
    )
    assert "Kiln" in copy_html and "<br>- Capacity: <mark class='claim-ok'" in copy_html
    assert "outcome: repaired" in report and "coverage: 100%" in report
    assert report.count("claim-bad") == 4  # black and 500 ml, in each of the two drafts
    assert "500 ml: the attributes say 350 ml" in report
