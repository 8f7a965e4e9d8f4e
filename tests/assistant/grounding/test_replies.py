"""Drafted agent replies: numbers, contacts and names only from the sources; placeholders and list
markers are not claims; degenerate text is caught."""

from __future__ import annotations

from assistant.grounding.replies import asked_secrets, check_draft, claims, invented_contacts

ANSWER = "You can cancel from your order details by clicking the 'Cancel Order' button within 24 hours."
TICKET = "how do i cancel order {{Order Number}}"


def test_a_faithful_stepwise_draft_passes():
    draft = (
        "I understand you want to cancel order {{Order Number}}. Here is how:\n\n"
        "1. Sign in to your {{Website Name}} account.\n2. Open your order details.\n"
        "3. Click the Cancel Order button within 24 hours."
    )
    assert check_draft(draft, [TICKET, ANSWER]) == []


def test_invented_amounts_contacts_and_names_are_reported():
    draft = (
        "You can cancel within 48 hours from your order details. A fee of $15 applies. "
        "Email help@shop.example or call +1 415 555 0100. Our Lisbon team handles it."
    )
    problems = check_draft(draft, [TICKET, ANSWER])
    assert "48" in problems and "$15" in problems and "Lisbon" in problems
    assert any(p.startswith("contact:") for p in problems)


def test_placeholders_in_either_form_are_not_claims():
    draft = "Call {{Customer Support Phone Number}} or [Customer Support Email] to cancel your order details."
    assert check_draft(draft, [TICKET, ANSWER]) == []


def test_short_and_repetitive_drafts_are_reported():
    assert check_draft("Sure, cancel it.", [TICKET, ANSWER])[0].startswith("too short")
    loop = "please open your order details " * 6
    assert "repeats itself" in check_draft(loop, [TICKET, ANSWER])


def test_claims_keep_lines_and_list_markers():
    text = "Steps:\n1. Open your order details.\n2. Pay 30 dollars."
    found = claims(text, [ANSWER])
    assert [(c.line, c.marker, bool(c.problems)) for c in found] == [
        (0, "", False),
        (1, "1. ", False),
        (2, "2. ", True),
    ]


def test_contacts_in_the_prompt_are_not_invented():
    assert invented_contacts("write to jo@x.io", "my email is jo@x.io") == []
    assert invented_contacts("see www.shop.com", "nothing") == ["www.shop.com"]


def test_a_draft_must_keep_the_answers_numbers_and_addresses():
    answer = "Email support@shop.example within 30 days of delivery."
    kept = "Please email support@shop.example within 30 days of delivery and we will help."
    assert check_draft(kept, [TICKET, answer], answer=answer) == []
    generic = "Please log in to your account and open the returns section to start your return."
    problems = check_draft(generic, [TICKET, answer], answer=answer)
    assert (
        "leaves out the answer's support@shop.example" in problems
        and "leaves out the answer's 30" in problems
    )


def test_contact_placeholders_take_the_contact_the_answer_states_once():
    from assistant.grounding.replies import contact_values

    answer = "Write to support@example.com or call (123) 456-7890; see www.example.com/help."
    names = ["Customer Support Email", "Customer Support Phone Number", "Website URL", "Live Chat"]
    assert contact_values(answer, names) == {
        "Customer Support Email": "support@example.com",
        "Customer Support Phone Number": "(123) 456-7890",
        "Website URL": "www.example.com/help",
    }
    # two different numbers: which is meant is the agent's call; an answer without one fills nothing
    assert contact_values("Call +1 415 555 0100 or +1 415 555 0199.", ["Support Phone Number"]) == {}
    assert contact_values("Use the Contact Us page.", ["Customer Support Email"]) == {}


def test_a_draft_asking_for_a_credential_is_refused_and_a_warning_is_not():
    """Help-desk replies ask for "your username, password"; a shop's reply must never."""
    asking = (
        "I understand you want to update your account. Please provide me with your username, password "
        "and any other relevant details."
    )
    assert "asks the customer for their password" in check_draft(asking, [TICKET, ANSWER])
    assert asked_secrets("We do not need much; please provide your password.") == [
        "password"
    ]  # not a warning
    steps = (
        "1. Click Forgot password on the sign-in page.\n2. Enter and confirm your new password.\n"
        "Never share your password or card number with anyone. Please don't send us your PIN."
    )
    assert not [p for p in check_draft(steps, [TICKET, ANSWER]) if p.startswith("asks")]
