"""The Python baseline for the subtitle reader: the `srt` package's parser and a regex cleaner that
follows the same rules as `hawkins::clean` (tags, sound cues, lyrics, speaker labels, dialogue
dashes), timed over a folder of .srt files held in memory.

    python reference_srt.py DIR [--iterations N]

Prints one line of JSON, the same fields as `examples/parse_throughput.rs`, plus the `srt`
version. Run by `parse_vs_python.sh`, which sets up the virtualenv.
"""

import argparse
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
SENTENCE_END = re.compile(r"[.!?…][\"'”’»)]*$")
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
    while True:
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


def clean(subtitles):
    out = []
    for cue in subtitles:
        text = TAG.sub("", cue.content)
        segments = []
        for line in text.split("\n"):
            line = line.strip()
            if LYRIC_LINE.match(line):
                continue
            dash = DASH.match(line)
            if dash:
                line = line[dash.end():]
            speaker, rest = take_label(line)
            if segments and not dash and speaker is None:
                segments[-1][2].append(rest)
            else:
                segments.append((bool(dash), speaker, [rest]))
        for i, (dashed, speaker, parts) in enumerate(segments):
            body = clean_body(" ".join(parts))
            if not any(c.isalnum() for c in body):
                continue
            if speaker is None and i == 0 and not dashed and out:
                prev = out[-1]
                if not SENTENCE_END.search(prev["text"]) or body[:1].islower():
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
    times, cues, lines = [], 0, 0
    for _ in range(max(args.iterations, 1)):
        cues = lines = 0
        started = time.perf_counter()
        for data in files:
            subtitles = list(srt.parse(decode(data)))
            cues += len(subtitles)
            lines += len(clean(subtitles))
        times.append(time.perf_counter() - started)
    times.sort()
    best, median = times[0], times[len(times) // 2]
    print(json.dumps({
        "files": len(files), "bytes": total, "cues": cues, "lines": lines,
        "best_s": round(best, 6), "median_s": round(median, 6), "mb_per_s": round(total / best / 1e6, 2),
        "reference": f"python {sys.version.split()[0]}, srt {importlib.metadata.version('srt')}",
    }))


if __name__ == "__main__":
    main()
