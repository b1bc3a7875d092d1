import itertools

from domain import ticket_numbers as tn


def test_new_numbers_are_seven_symbols_and_valid() -> None:
    for _ in range(200):
        number = tn.new_number()
        assert len(number) == 7
        assert tn.is_valid(number)


def test_number_is_read_back_whatever_case_spaces_and_dashes() -> None:
    number = tn.new_number()
    shown = tn.display(number)
    assert shown[4] == "-"
    for typed in (shown, shown.lower(), f"  {number[:3]} {number[3:]} ", "-".join(number)):
        assert tn.normalise(typed) == number


def test_full_width_letters_and_digits_are_read_as_ascii() -> None:
    number = tn.new_number()
    wide = "".join(chr(ord(ch) + 0xFEE0) for ch in tn.display(number))  # "ＡＢＣＤ－１２３"
    assert tn.normalise(wide) == number
    assert tn.normalise(wide.lower()) == number


def test_what_a_telex_keyboard_made_of_the_letters_is_undone() -> None:
    """Typed with Vietnamese Telex, AS becomes Á, AA Â, EEJ Ệ, DD Đ: read back as typed."""
    for body, typed_body in (("KAS2R4", "KÁ2R4"), ("0AA1DD", "0Â1Đ"), ("EEJ9AF", "Ệ9À")):
        number = body + tn.check_symbol(body)
        shown = f"{typed_body}-{number[-1]}"
        assert tn.normalise(shown) == number, shown
        assert tn.normalise(shown.lower()) == number, shown


def test_a_telex_tone_typed_at_the_end_of_the_syllable_is_undone() -> None:
    """Most people type a syllable's tone last: T A N S comes out as TÁN, X A M J as XẠM.
    Only a tone typed right after its vowel was undone, and such numbers were not found."""
    for body, typed_body in (("TANS2K", "TÁN2K"), ("XAMJ7P", "XẠM7P"), ("VETJ5K", "VẸT5K")):
        number = body + tn.check_symbol(body)
        shown = f"{typed_body}-{number[-1]}"
        assert tn.normalise(shown) == number, shown
        assert tn.normalise(shown.lower()) == number, shown


def test_what_a_vni_keyboard_made_of_letters_and_digits_is_undone() -> None:
    """VNI types the marks with digits: A1 becomes Á, E65 Ệ, D9 Đ."""
    for body, typed_body in (("KA1XR4", "KÁXR4"), ("0D9E65", "0ĐỆ")):
        number = body + tn.check_symbol(body)
        shown = f"{typed_body}-{number[-1]}"
        assert tn.normalise(shown) == number, shown


def test_look_alike_letters_are_read_as_digits() -> None:
    body = "0011AB"
    number = body + tn.check_symbol(body)
    assert tn.normalise("OoIL" + number[4:]) == number


def test_typo_in_ticket_number_is_not_found() -> None:
    """Every single wrong symbol changes the check, so a typo never names another ticket."""
    number = tn.new_number()
    for i, wrong in itertools.product(range(len(number)), tn.ALPHABET):
        if wrong == number[i]:
            continue
        typo = number[:i] + wrong + number[i + 1 :]
        assert tn.normalise(typo) is None, typo


def test_swapped_neighbours_are_not_found() -> None:
    for _ in range(100):
        number = tn.new_number()
        for i in range(len(number) - 1):
            if number[i] == number[i + 1]:
                continue
            swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
            assert tn.normalise(swapped) is None


def test_too_short_or_foreign_input_is_not_a_number() -> None:
    for typed in ("", "ABC", "ABCD-EFGH-1", "ÀBCD-EFG", "UUUU-UUU", "WWWW-WWW", "12345678"):
        assert tn.normalise(typed) is None


def test_a_number_is_found_in_a_line_pasted_from_the_confirmation() -> None:
    """Copying a message in Telegram copies all of it: "Mã số: ABCD-EFG" was not found."""
    number = tn.new_number()
    shown = tn.display(number)
    for pasted in (
        f"Mã số: {shown}",
        f"mã số {shown.lower()} ạ",
        f"Mã số: {shown[:4]} {shown[5:]}",
    ):
        assert tn.numbers_in(pasted) == [number], pasted
    assert tn.numbers_in("Mã số của tôi là gì?") == []
    other = tn.new_number()
    assert tn.numbers_in(f"{shown} hay {tn.display(other)}") == sorted({number, other})  # two


def test_a_long_text_is_not_read_through_a_keyboards_marks() -> None:
    """Every way a tone may have been typed, for each accented letter of a text, grew with
    the text's square: one message of 4,000 "á" held the bot's loop for seconds. Only what
    could be a number (a few symbols) is read back so."""
    import pytest

    seen: list[int] = []
    typings = tn._typings

    def counted(text: str, keyboard: tn.Keyboard) -> list[str]:
        seen.append(len(text))
        return typings(text, keyboard)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tn, "_typings", counted)
        assert tn.numbers_in("á" * 4000) == []
        assert tn.numbers_in(" ".join(["á" * 40] * 100)) == []
    assert all(length <= tn.LENGTH + 2 for length in seen), max(seen)


def test_a_vietnamese_word_beside_the_number_does_not_hide_it() -> None:
    """'trống' read back through VNI's marks (T R O 6 1 N G) is itself a valid number, as are
    'điền', 'có tên': found beside the resident's number, neither was named."""
    number = tn.new_number()
    assert tn.numbers_in(f"Mã số {tn.display(number)}, chỗ ấy vẫn còn trống") == [number]


def test_two_plain_words_read_as_a_number_do_not_hide_one_typed_whole() -> None:
    """ "phan anh" (the service's name typed without accents) is by chance a valid number,
    PHAN-ANH: beside a number typed whole without its dash, neither was named."""
    assert tn.normalise("phan anh") == "PHANANH"
    number = tn.new_number()
    typed = tn.display(number).lower().replace("-", "")
    assert tn.numbers_in(f"phan anh {typed}") == [number]
    assert tn.numbers_in(f"tra cứu phan anh {tn.display(number)}") == [number]
    # Typed in two words, the number and the name are alike: both may be meant.
    shown = tn.display(number)
    assert {"PHANANH", number} <= set(tn.numbers_in(f"phan anh {shown[:4]} {shown[5:]}"))


def test_a_number_with_any_dash_beside_other_words_is_found() -> None:
    """ "Mã số: ABCD–EFG" with an en dash (a keyboard's smart punctuation, a page copied
    from) was not found, though "ABCD–EFG" alone was: beside other words only an ASCII
    hyphen was read. Every dash is read as the hyphen now."""
    number = tn.new_number()
    for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d":
        shown = tn.display(number).replace("-", dash)
        assert tn.numbers_in(shown) == [number], dash
        assert tn.numbers_in(f"Mã số: {shown}") == [number], dash
        assert tn.numbers_in(f"mã số {shown.lower()} ạ") == [number], dash


def test_a_number_with_spaces_around_its_dash_beside_other_words_is_found() -> None:
    """ "Mã số: ABCD – EFG", the dash set off by spaces (as a phone's smart punctuation makes
    an en dash of " - "), was not found beside other words, though found alone."""
    number = tn.new_number()
    shown = tn.display(number)
    for dash in ("-", "\u2013", "\u2014"):
        spaced = shown.replace("-", f" {dash} ")
        assert tn.numbers_in(f"Mã số: {spaced}") == [number], spaced
        assert tn.numbers_in(f"cho hỏi phản ánh {spaced.lower()} thế nào") == [number], spaced
