"""Documents as they really come, written as files: hard-wrapped text and PDFs (one sentence
running on to the next page), a Word file, a cp1251 Russian file, Chinese, French and Spanish.
The integration tests index them once per session (``formats_index`` in ``conftest.py``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import docx

WRAPPED_SENTENCE = (
    "The coastal states signed the maritime security agreement in Geneva on 14 March 2023, "
    "after two years of negotiations under the auspices of the United Nations."
)
WRAPPED_TEXT = "\n\n".join(
    [
        "STATEMENT BY THE PERMANENT REPRESENTATIVE",
        textwrap.fill(
            "Mr. President, allow me to begin by thanking the Secretary-General for his "
            "report on maritime security. " + WRAPPED_SENTENCE + " My delegation believes that "
            "the agreement sets an example for other regions facing piracy and armed robbery "
            "at sea. We call on all Member States to support its implementation.",
            width=64,
        ),
        textwrap.fill(
            "Finally, we note that regional cooperation on fisheries enforcement remains "
            "essential for the livelihoods of coastal communities across the region.",
            width=64,
        ),
    ]
)
PDF_SENTENCE = (
    "Norway and the Republic of Korea concluded a framework agreement on Arctic research "
    "cooperation in September 2021, according to the joint statement of both ministries."
)
PDF_LINES = textwrap.wrap(
    "Joint statement on polar research. " + PDF_SENTENCE + " The agreement covers the "
    "exchange of scientists, shared use of research vessels and joint observation of sea ice "
    "in the high north over the coming decade.",
    width=70,
)
PAGED_SENTENCE = (
    "The delegation of Chile announced a contribution of 40 million dollars to the adaptation "
    "fund at the climate conference held in Dubai in December 2023."
)
_PAGED = textwrap.wrap(
    "Summary of pledges made during the high-level segment of the conference on climate "
    "adaptation and resilience. " + PAGED_SENTENCE + " Other delegations welcomed the "
    "announcement and urged further support.",
    width=70,
)
PDF_PAGE_1, PDF_PAGE_2 = _PAGED[:3], _PAGED[3:]
DOCX_SENTENCE = (
    "The Security Council adopted resolution 2231 in July 2015 to endorse the nuclear "
    "agreement with Iran."
)
RUSSIAN = (
    "Министерство иностранных дел Российской Федерации заявило, что переговоры о "
    "сотрудничестве в Арктике продолжатся в следующем месяце. Стороны подписали меморандум "
    "о взаимопонимании."
)
CHINESE = (
    "海关总署今天发布了新的进口商品检验规定。各地海关将于明年一月起实施这些规定！"
    "外交部发言人表示，中国愿与各国加强合作。"
)
FRENCH = (
    "Déclaration du ministère de l'Europe et des Affaires étrangères.\n\n"
    "La France a signé l'accord de coopération maritime avec le Sénégal en mars 2022. "
    "Cet accord renforce la surveillance des pêches dans le golfe de Guinée. "
    "Les deux pays organiseront des patrouilles conjointes chaque année."
)
SPANISH = (
    "El Gobierno de España reiteró su compromiso con la seguridad marítima en el Mediterráneo. "
    "Las autoridades españolas firmaron el protocolo de cooperación con Marruecos en 2019."
)


def pdf_bytes(*pages: list[str], title: str) -> bytes:
    """A PDF written by hand: on each page, Helvetica lines one under the other."""
    streams = []
    for lines in pages:
        ops = ["BT /F1 11 Tf 60 740 Td"]
        for n, line in enumerate(lines):
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(("" if n == 0 else "0 -14 Td ") + f"({escaped}) Tj")
        ops.append("ET")
        streams.append(" ".join(ops).encode("latin-1"))
    n_pages = len(pages)
    kids = " ".join(f"{4 + i} 0 R" for i in range(n_pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (4 + n_pages + i)
        for i in range(n_pages)
    ]
    objects += [
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream" for stream in streams
    ]
    objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    info = len(objects)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info} 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def write_docx(path: Path, paragraphs: list[str], *, heading: str) -> Path:
    document = docx.Document()
    document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Resolution"
    table.rows[0].cells[1].text = "2231"
    document.save(str(path))
    return path


def write_corpus(folder: Path) -> Path:
    """The :data:`FILES` input files, written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "speech.txt").write_text(WRAPPED_TEXT, encoding="utf-8")
    (folder / "polar.pdf").write_bytes(pdf_bytes(PDF_LINES, title="korea-norway.html"))
    # a sentence that runs on from page 1 to page 2
    (folder / "two-pages.pdf").write_bytes(
        pdf_bytes(PDF_PAGE_1, PDF_PAGE_2, title="Microsoft Word - draft.docx")
    )
    write_docx(
        folder / "council.docx",
        [DOCX_SENTENCE, "The resolution also set out a schedule for lifting sanctions."],
        heading="Security Council resolutions",
    )
    (folder / "mid.txt").write_bytes(RUSSIAN.encode("cp1251"))
    (folder / "customs.txt").write_text(CHINESE, encoding="utf-8")
    (folder / "france-senegal.txt").write_text(FRENCH, encoding="utf-8")
    (folder / "espana.txt").write_text(SPANISH, encoding="utf-8")
    return folder


#: The files :func:`write_corpus` writes, with the language each is detected as.
FILES = {
    "speech.txt": "en",
    "polar.pdf": "en",
    "two-pages.pdf": "en",
    "council.docx": "en",
    "mid.txt": "ru",
    "customs.txt": "zh",
    "france-senegal.txt": "fr",
    "espana.txt": "es",
}
