"""Upload checks by content, size and name (no database)."""

from __future__ import annotations

import io

import pytest

from documents.errors import FileTooLarge, FileTypeNotAllowed
from documents.samples import sample_pdf
from documents.validation import InvalidFileName, check_upload, clean_name
from tests.documents.conftest import PNG

JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\x00" * 64
    + b"\xff\xd9"
)


def check(data: bytes, name: str = "file.pdf"):
    return check_upload(io.BytesIO(data), name=name, size=len(data))


def test_it_accepts_pdf_png_and_jpeg_by_content_whatever_the_name():
    assert check(sample_pdf(["x"]), "scan.bin").content_type == "application/pdf"
    assert check(PNG, "photo.pdf").content_type == "image/png"
    assert check(JPEG, "photo").content_type == "image/jpeg"


def test_it_names_the_file_after_its_detected_type():
    assert check(PNG, "photo.pdf").name == "photo.png"
    assert check(sample_pdf(["x"]), "Report (final).PDF").name == "Report (final).pdf"


def test_it_hashes_the_content():
    import hashlib

    data = sample_pdf(["hash me"])
    assert check(data).sha256 == hashlib.sha256(data).hexdigest()
    assert check(data).size == len(data)


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4 but really just text, no trailer",
        b"This is plain text pretending to be a PDF",
        b"<html><script>alert(1)</script></html>",
        b"PK\x03\x04" + b"\x00" * 100,  # a zip (docx)
    ],
)
def test_it_refuses_what_is_not_pdf_png_or_jpeg(data):
    with pytest.raises(FileTypeNotAllowed) as exc:
        check(data, "contract.pdf")
    assert exc.value.status == 415
    assert exc.value.errors[0]["code"] == "file_type_not_allowed"


def test_it_refuses_an_empty_file():
    with pytest.raises(FileTypeNotAllowed):
        check(b"")


def test_it_refuses_one_byte_over_the_limit(settings):
    settings.DOCUMENT_MAX_BYTES = 1000
    data = sample_pdf(["x"])
    data = data + b" " * (1001 - len(data))
    with pytest.raises(FileTooLarge) as exc:
        check_upload(io.BytesIO(data), name="big.pdf", size=None)  # counted while reading
    assert exc.value.status == 413


def test_it_accepts_exactly_the_limit(settings):
    data = sample_pdf(["x"])
    settings.DOCUMENT_MAX_BYTES = len(data)
    assert check(data).size == len(data)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.pdf",
        "a/b.pdf",
        "..\\win.pdf",
        "a\x00b.pdf",
        "bell\x07.pdf",
        "rtl\u202egpj.pdf",
    ],
)
def test_it_refuses_names_with_separators_or_control_characters(name):
    with pytest.raises(InvalidFileName) as exc:
        check(sample_pdf(["x"]), name)
    assert exc.value.status == 400
    assert exc.value.errors[0]["code"] == "invalid_file_name"


def test_it_sanitises_other_characters():
    assert clean_name('quote"s <&> ;rm -rf.pdf', "pdf") == "quote_s _ _rm -rf.pdf"
    assert clean_name("", "png") == "document.png"
    assert clean_name("...", "pdf") == "document.pdf"
    assert len(clean_name("x" * 500 + ".pdf", "pdf")) <= 150
