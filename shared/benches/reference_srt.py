"""The Python baseline for the subtitle reader: the `srt` package's parser and a regex cleaner that
follows the same rules as `hawkins::clean` (tags, sound cues, lyrics, speaker labels, dialogue
dashes, HTML character references), timed over a folder of .srt files held in memory.

    python reference_srt.py DIR [--iterations N]

Prints one line of JSON, the same fields as `examples/parse_throughput.rs`, plus the `srt`
version. Run by `parse_vs_python.sh`, which sets up the virtualenv.

The cleaner is written to be fast, not to lose: the regexes run only where a cheap test says they
can change something, as the Rust reader's fast paths do, and the cyclic garbage collector is off
while timing (as `timeit` does; nothing here makes cycles). Its output on the corpus is the Rust
reader's, line for line: `digest` lets the comparison check that.
"""

import argparse
import gc
import hashlib
import html.entities
import importlib.metadata
import json
import pathlib
import re
import sys
import time

import srt

TAG = re.compile(r"</?[A-Za-z][^>]*>|\{\\[^}]*\}")
LYRIC_LINE = re.compile(r"^[\s♪♫#]*$")
DASH = re.compile(r"^[-–](?=\s|[^\d\-–.])\s*")
LEADING_CUE = re.compile(r"^(?:\(([^)]*)\)|\[([^\]]*)\])\s*")
LABEL = re.compile(r"^([A-Z\u00C0-\u00DE][A-Z\u00C0-\u00DE0-9 .'’\-]{0,29}):(?:\s+|$)")
CUE = re.compile(r"\([^)]*\)|\[[^\]]*\]|\([^)]*$|\[[^\]]*$")
LYRIC = re.compile(r"([♪♫]).*?(?:\1|$)")
# A removed cue leaves a mark; punctuation right after it closes up to the word before.
REMOVED_BEFORE_PUNCT = re.compile(r"\s*\x00[\s\x00]*(?=[.,!?;:…])")
SPACES = re.compile(r"\s+")
# A character reference as `hawkins::clean` finds one: a name or a number, `;`, 33 bytes at most.
REFERENCE = re.compile(r"&(?:([A-Za-z0-9]{1,31})|#([0-9]{1,30})|#[xX]([0-9A-Fa-f]{1,29}));")
SENTENCE_END = re.compile(r"[.!?…][\"'”’»)]*$")
# What lets a segment skip the cleaning regexes (they would change nothing but the ends), and the
# first letter or digit (`[^\W_]` is exactly `str.isalnum`).
NEEDS_CLEANING = re.compile(r"[()\[\]♪♫#\x00]|[^\S ]|  ")
ALNUM = re.compile(r"[^\W_]")
CAST = {name.lower(): name for name in [
    "Mike", "Dustin", "Lucas", "Will", "Eleven", "Joyce", "Hopper", "Nancy", "Steve", "Jonathan", "Max", "Robin",
]}


def speaker_of(label):
    return CAST.get(label.lower())


def title_case(label):
    out, after_letter = [], False
    for c in label:
        out.append(c.lower() if after_letter else c)
        after_letter = c.isalpha()
    return "".join(out)


def take_label(line):
    """Leading sound cues off, then a known [bracket] or an uppercase LABEL: as the speaker."""
    while line[:1] in ("(", "["):
        m = LEADING_CUE.match(line)
        if not m:
            break
        if m.group(2) is not None:
            known = speaker_of(m.group(2).strip())
            if known:
                return known, line[m.end():]
        line = line[m.end():]
    m = LABEL.match(line)
    if m:
        label = m.group(1).rstrip()
        return speaker_of(label) or title_case(label), line[m.end():]
    return None, line


def clean_body(body):
    if NEEDS_CLEANING.search(body) is None:
        return body.strip()
    body = body.strip()
    hash_marks = body == "#" or body.startswith("# ")
    if hash_marks:
        body = body.replace("#", "♪")
    marks = body.count("♪") + body.count("♫")
    first = min((i for i in (body.find("♪"), body.find("♫")) if i >= 0), default=-1)
    if marks % 2 == 1 and first > 0:
        body = body[first + 1:]
    body = LYRIC.sub("\x00", body)
    body = CUE.sub("\x00", body)
    body = REMOVED_BEFORE_PUNCT.sub("", body).replace("\x00", " ")
    return SPACES.sub(" ", body).strip()


def reference(m):
    """What a character reference stands for, or the reference itself where it stands for nothing
    (an unknown name, no character, a control character other than whitespace)."""
    name, decimal, hexadecimal = m.groups()
    if name is not None:
        return html.entities.html5.get(name + ";", m.group())
    value = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return m.group()
    c = chr(value)
    return m.group() if (value < 0x20 or 0x7F <= value <= 0x9F) and not c.isspace() else c


def decode_references(body):
    """References read last, in the cleaned words: what they stand for is text, and whitespace."""
    return SPACES.sub(" ", REFERENCE.sub(reference, body)).strip()


def clean(subtitles):
    out = []
    for cue in subtitles:
        text = cue.content
        if "<" in text or "{" in text:
            text = TAG.sub("", text)
        segments = []
        for line in text.split("\n"):
            line = line.strip()
            if not line or line[0] in "♪♫#" and LYRIC_LINE.match(line):
                continue
            dash = DASH.match(line) if line[0] in "-–" else None
            if dash:
                line = line[dash.end():]
            speaker, rest = take_label(line)
            if segments and not dash and speaker is None:
                segments[-1][2].append(rest)
            else:
                segments.append((bool(dash), speaker, [rest]))
        for i, (dashed, speaker, parts) in enumerate(segments):
            body = clean_body(parts[0] if len(parts) == 1 else " ".join(parts))
            if "&" in body:
                body = decode_references(body)
            first_alnum = ALNUM.search(body)
            if first_alnum is None:
                continue
            if speaker is None and i == 0 and not dashed and out:
                prev = out[-1]
                if not SENTENCE_END.search(prev["text"]) or first_alnum.group().islower():
                    speaker = prev["speaker"]
            out.append({"start": cue.start, "end": cue.end, "speaker": speaker, "text": body})
    return out


def decode(data):
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def read(data):
    """One file, as timed: decode, parse, clean."""
    return clean(list(srt.parse(decode(data))))


def digest(files):
    """SHA-256 of every cleaned line as `start<TAB>end<TAB>speaker<TAB>text<LF>`, times in ms."""
    ms = lambda t: t.days * 86_400_000 + t.seconds * 1000 + t.microseconds // 1000
    sha = hashlib.sha256()
    for data in files:
        for line in read(data):
            sha.update(f"{ms(line['start'])}\t{ms(line['end'])}\t{line['speaker'] or ''}\t{line['text']}\n".encode())
    return sha.hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    paths = sorted(p for p in pathlib.Path(args.dir).iterdir() if p.suffix.lower() == ".srt")
    if not paths:
        sys.exit(f"no .srt files in {args.dir}")
    files = [p.read_bytes() for p in paths]
    total = sum(len(f) for f in files)
    cues = sum(len(list(srt.parse(decode(data)))) for data in files)
    lines = sum(len(read(data)) for data in files)
    # Each file's best time, and each whole pass's: a busy machine disturbs a long pass more
    # often than a short file, so the sum of the files' best times is the steadier figure.
    file_best = [float("inf")] * len(files)
    passes = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(max(args.iterations, 1)):
            pass_started = time.perf_counter()
            for k, data in enumerate(files):
                started = time.perf_counter()
                read(data)
                file_best[k] = min(file_best[k], time.perf_counter() - started)
            passes.append(time.perf_counter() - pass_started)
    finally:
        gc.enable()
    passes.sort()
    best = sum(file_best)
    print(json.dumps({
        "files": len(files), "bytes": total, "cues": cues, "lines": lines, "digest": digest(files),
        "best_s": round(best, 6), "pass_best_s": round(passes[0], 6),
        "pass_median_s": round(passes[len(passes) // 2], 6), "mb_per_s": round(total / best / 1e6, 2),
        "reference": f"python {sys.version.split()[0]}, srt {importlib.metadata.version('srt')}",
    }))


if __name__ == "__main__":
    main()
