"""Goldens for hf/tokenizer's lossy UTF-8 decoding: bytes -> str with
errors="replace" (one U+FFFD per maximal ill-formed subpart, the practice HF's
String::from_utf8_lossy also follows). Run: python3 lossy_utf8.py > lossy_utf8.json"""
import json
import random

cases = [
    b"", b"abc", b"\xff", b"\x80\x80", b"a\xe2\x82b", b"\xe2\x82", b"\xe2\x82\xac", b"\xf0\x9f\x98",
    b"\xf0\x9f\x98\x80", b"\xf0\x9f", b"\xc0\xaf", b"\xc1\xbf", b"\xed\xa0\x80", b"\xed\x9f\xbf",
    b"\xe0\x80\x80", b"\xe0\xa0\x80", b"\xf4\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf5\x80", b"\xf8\x88\x80\x80\x80",
    b"\xc2", b"\xc2\x41", b"\xe1\x80\x41", b"\xf1\x80\x80\x41", b"\xfe\xff", b"caf\xc3\xa9\xc3",
]
rng = random.Random(7)
pool = [b"a", b" ", b"\x80", b"\xbf", b"\xc2", b"\xc3\xa9", b"\xe2", b"\x82", b"\xac", b"\xed", b"\xa0",
        b"\xf0", b"\x9f", b"\x98", b"\xf4", b"\x90", b"\xff", b"\xe0", b"\xc0"]
for _ in range(300):
    cases.append(b"".join(rng.choice(pool) for _ in range(rng.randint(1, 10))))
print(json.dumps([{"hex": c.hex(), "text": c.decode("utf-8", "replace")} for c in cases], ensure_ascii=True, indent=0))
