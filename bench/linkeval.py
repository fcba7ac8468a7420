"""Bench: ``pupilshare link`` against Splink alone on two labelled files of people.

The files come from a generator of its own, unlike ``synth``'s (which knows pupils,
schools and census terms): a population of adults and children, then two files of
about 5,000 records each, one record per person in each, so every record has exactly
one true match. File A is lightly corrupted, file B heavily, in every field:

- names: typing errors (a letter wrong, missing, doubled), adjacent letters
  transposed, sound-alike spellings, nicknames for the forename, forename and surname
  swapped, a hyphenated surname kept in part, missing;
- date of birth: a digit wrong, adjacent digits transposed, day and month swapped, the
  year a decade off, dates that are not dates (month 13, 30 February), another
  format (``DD/MM/YYYY``), missing;
- postcode: a character wrong or transposed, no space or lower case, only the outward
  code, a foreign or malformed code, a different postcode (a move), missing;
- sex: often empty, sometimes wrong.

``--setting`` picks the error rates (``base`` or ``hard``), so the linker is not tuned
to one instance. Both linkers see the same four fields (forename, surname, date of
birth, postcode; sex too, which Splink's example model ignores). Splink alone uses the
settings of Splink's own febrl4 example (the documentation's two-file person linkage:
``NameComparison`` with term frequencies for both names, ``DateOfBirthComparison``
with ``input_is_string`` and ``invalid_dates_as_null``, the example's blocking rules on
names, swapped names, date of birth and postcode, the same training calls); its
postcode comparison is tried both as the example's (Damerau-Levenshtein at 1 and 2)
and as ``PostcodeComparison``. Pairs at or above the threshold are scored against the
truth (precision, recall, F1).

    PYTHONPATH=src python bench/linkeval.py [--setting base|hard] [--seed 1]
        [--people 5000] [--keep DIR] [--record]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

# Per-field error rates in file B (file A gets a fifth of each).
SETTINGS = {
    "base": {
        "name_typo": 0.12,
        "name_transpose": 0.05,
        "nickname": 0.08,
        "swap": 0.04,
        "name_missing": 0.03,
        "dob_typo": 0.08,
        "dob_transpose": 0.04,
        "dob_daymonth": 0.03,
        "dob_invalid": 0.03,
        "dob_format": 0.02,
        "dob_missing": 0.03,
        "pc_typo": 0.08,
        "pc_format": 0.10,
        "pc_outward": 0.03,
        "pc_foreign": 0.03,
        "pc_moved": 0.10,
        "pc_missing": 0.05,
        "sex_missing": 0.6,
        "sex_wrong": 0.02,
    },
    "hard": {
        "name_typo": 0.25,
        "name_transpose": 0.10,
        "nickname": 0.15,
        "swap": 0.08,
        "name_missing": 0.06,
        "dob_typo": 0.15,
        "dob_transpose": 0.08,
        "dob_daymonth": 0.06,
        "dob_invalid": 0.06,
        "dob_format": 0.05,
        "dob_missing": 0.06,
        "pc_typo": 0.15,
        "pc_format": 0.20,
        "pc_outward": 0.06,
        "pc_foreign": 0.06,
        "pc_moved": 0.20,
        "pc_missing": 0.10,
        "sex_missing": 0.9,
        "sex_wrong": 0.04,
    },
}

NICKNAMES = {
    "WILLIAM": ["BILL", "WILL", "BILLY", "LIAM"],
    "ROBERT": ["BOB", "ROB", "BOBBY"],
    "ELIZABETH": ["LIZ", "BETH", "LIZZIE", "BETTY"],
    "KATHERINE": ["KATE", "KATHY"],
    "MARGARET": ["MAGGIE", "PEGGY", "MEG"],
    "JAMES": ["JIM", "JAMIE", "JIMMY"],
    "MICHAEL": ["MIKE", "MICK"],
    "THOMAS": ["TOM", "TOMMY"],
    "CHRISTOPHER": ["CHRIS"],
    "ALEXANDER": ["ALEX", "SANDY"],
    "JENNIFER": ["JEN", "JENNY"],
    "RICHARD": ["RICH", "DICK", "RICKY"],
    "EDWARD": ["ED", "TED", "EDDIE"],
    "DANIEL": ["DAN", "DANNY"],
    "SAMUEL": ["SAM"],
    "BENJAMIN": ["BEN"],
    "JONATHAN": ["JON"],
    "NICHOLAS": ["NICK"],
    "MATTHEW": ["MATT"],
    "JOSEPH": ["JOE", "JOEY"],
    "ANTHONY": ["TONY"],
    "SUSAN": ["SUE", "SUZY"],
    "REBECCA": ["BECKY", "BEX"],
    "VICTORIA": ["VICKY", "TORI"],
    "PATRICIA": ["PAT", "TRISH"],
    "DEBORAH": ["DEBBIE", "DEB"],
    "CHARLOTTE": ["LOTTIE", "CHARLIE"],
    "ABIGAIL": ["ABBY"],
    "OLIVIA": ["LIV"],
    "ISABELLA": ["BELLA", "IZZY"],
    "FREDERICK": ["FRED", "FREDDIE"],
    "HENRY": ["HARRY"],
    "JOHN": ["JACK", "JOHNNY"],
    "MOHAMMED": ["MO"],
    "ALEKSANDRA": ["OLA"],
    "GABRIEL": ["GABE"],
    "NATHANIEL": ["NATE", "NAT"],
    "ELEANOR": ["ELLIE", "NELL"],
}
OTHER_FORENAMES = (
    "OLIVER GEORGE ARTHUR NOAH LEO OSCAR ARCHIE JACOB ETHAN ADAM AMARA ZARA PRIYA "
    "AISHA FATIMA SOFIA EMILY GRACE MIA AVA RUBY FREYA POPPY DAISY EVIE ROSIE IMOGEN "
    "HANNAH LUCY CHLOE SOPHIE AMELIA ISLA LILY ELSIE FLORENCE IVY WILLOW NIAMH SIOBHAN "
    "CIARAN RHYS DYLAN CALLUM EWAN FINLAY KAI TOBY REUBEN ELIJAH YUSUF IBRAHIM HAMZA "
    "AYAAN ARJUN ROHAN DEV KWAME KOFI CHIDI TUNDE WOJCIECH PIOTR KAROLINA AGNIESZKA "
    "MARIA ANA LUCA MATTEO GIULIA CHIARA HUGO LOUIS CAMILLE LEA ZOE"
).split()
SURNAME_HEADS = (
    "ASH BAR BRAD BROOK CARL CHAD CLIFF CROM DAL DAVEN DUN ELL FAIR FARN GOLD GREEN "
    "HAR HAWK HEN HOLL KING LANG LAW LEE MAR MID MOR NEW NOR OAK PEM RAD RAMS RED "
    "ROW SAND SHER SOMER STAN STOCK SUTH THORN WAL WHIT WIN WOOD YEAT ABER GLEN KIL "
    "PEN TRE BAL STRATH INVER"
).split()
SURNAME_TAILS = (
    "WORTH FORD TON LEY FIELD HAM WELL BURY COTT DALE WOOD HURST STEAD WICK BROOK "
    "SON MAN ER ING LOW MORE SHAW THWAITE BY CROFT GATE HILL LAND RIDGE WAY"
).split()
COMMON_SURNAMES = (
    "SMITH JONES WILLIAMS TAYLOR BROWN DAVIES EVANS WILSON THOMAS JOHNSON ROBERTS "
    "ROBINSON THOMPSON WRIGHT WALKER WHITE EDWARDS HUGHES GREEN HALL LEWIS HARRIS "
    "CLARKE PATEL JACKSON WOOD TURNER MARTIN COOPER HILL WARD MORRIS MOORE CLARK LEE "
    "KING BAKER HARRISON MORGAN ALLEN KHAN ALI HUSSAIN BEGUM AHMED SINGH KAUR OKAFOR "
    "ADEYEMI NOWAK KOWALSKI MURPHY KELLY OBRIEN MACDONALD CAMPBELL STEWART"
).split()
SOUNDS = [
    ("PH", "F"),
    ("CK", "K"),
    ("Y", "I"),
    ("EE", "EA"),
    ("C", "K"),
    ("Z", "S"),
    ("OU", "OW"),
    ("TH", "T"),
    ("IE", "Y"),
    ("AI", "AY"),
]
AREAS = (
    "LS BD HX WF S M L B N NE SR DH TS YO HU DN LN NG DE LE CV WV WS DY ST SK CW CH "
    "WA BL OL PR BB FY LA CA EX PL TQ TR BS BA GL OX RG SO BH PO GU RH TN ME CT BN "
    "SW SE NW E W EC WC EN HA UB TW KT SM CR BR DA RM IG CB IP NR CO CM SS SG AL HP "
    "LU MK NN PE CF SA NP LL SY LD EH G KA PA AB DD IV KY FK BT"
).split()
FOREIGN = [
    "75008",
    "10115",
    "D02 X285",
    "1012 AB",
    "00-950",
    "28013",
    "H3Z 2Y7",
    "2000",
    "SE-114 55",
    "90210",
    "1050",
    "T12 Y2RP",
    "80331",
]
LETTERS = "ABCDEFGHJKLMNPQRSTUWXYZ"
CLEANED = ", ".join(
    f"nullif(upper(trim({c})), '') AS {c}"
    for c in ("forename", "surname", "dob", "sex", "postcode")
)


def _surname(r: random.Random) -> str:
    if r.random() < 0.35:
        return r.choice(COMMON_SURNAMES)
    s = r.choice(SURNAME_HEADS) + r.choice(SURNAME_TAILS)
    return s + "-" + r.choice(COMMON_SURNAMES) if r.random() < 0.04 else s


FORENAMES = list(NICKNAMES) + OTHER_FORENAMES
# a few names are common, most are not (Zipf-like weights over a shuffled order)
_ORDER = random.Random(0).sample(FORENAMES, len(FORENAMES))
_WEIGHTS = [1 / (rank + 1) ** 0.8 for rank in range(len(_ORDER))]


def _forename(r: random.Random) -> str:
    return r.choices(_ORDER, _WEIGHTS)[0]


def _postcode(r: random.Random) -> str:
    area = r.choice(AREAS)
    district = str(r.randint(1, 29 if len(area) == 2 else 9))
    return f"{area}{district} {r.randint(0, 9)}{r.choice(LETTERS)}{r.choice(LETTERS)}"


def population(r: random.Random, n: int) -> list[dict]:
    """``n`` distinct people: names, sex, birth date, postcode (households share)."""
    postcodes = [_postcode(r) for _ in range(max(n // 3, 10))]
    people = []
    for i in range(n):
        born = date(1935, 1, 1) + timedelta(days=r.randint(0, 365 * 88))
        people.append(
            {
                "forename": _forename(r),
                "surname": _surname(r),
                "dob": born.isoformat(),
                "sex": r.choice("MF"),
                "postcode": r.choice(postcodes),
                "person": i,
            }
        )
    return people


UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _typo(r: random.Random, s: str, alphabet: str = UPPER) -> str:
    if len(s) < 2:
        return s
    i = r.randrange(len(s))
    kind = r.random()
    if kind < 0.4:
        return s[:i] + r.choice(alphabet) + s[i + 1 :]
    if kind < 0.7:
        return s[:i] + s[i + 1 :]
    return s[:i] + s[i] + s[i:]


def _transpose(r: random.Random, s: str) -> str:
    if len(s) < 2:
        return s
    i = r.randrange(len(s) - 1)
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def _sound(r: random.Random, s: str) -> str:
    found = [(a, b) for a, b in SOUNDS if a in s]
    if not found:
        return _typo(r, s)
    a, b = r.choice(found)
    return s.replace(a, b, 1)


def _name(r: random.Random, s: str, e: dict, scale: float) -> str:
    if r.random() < e["name_typo"] * scale:
        s = _typo(r, s) if r.random() < 0.6 else _sound(r, s)
    if r.random() < e["name_transpose"] * scale:
        s = _transpose(r, s)
    return s


def _dob(r: random.Random, dob: str, e: dict, scale: float) -> str:
    y, m, d = dob.split("-")
    if r.random() < e["dob_missing"] * scale:
        return ""
    if r.random() < e["dob_daymonth"] * scale and int(d) <= 12:
        m, d = d, m
    if r.random() < e["dob_invalid"] * scale:  # a date that is not a date
        m, d = r.choice(
            [
                ("13", d),
                (str(int(m) + 10).zfill(2), d),
                ("02", "30"),
                (m, "32"),
                ("00", d),
            ]
        )
    s = f"{y}-{m}-{d}"
    if r.random() < e["dob_typo"] * scale:
        i = r.choice([2, 3, 5, 6, 8, 9])
        s = s[:i] + str(r.randint(0, 9)) + s[i + 1 :]
    if r.random() < e["dob_transpose"] * scale:
        i = r.choice([2, 5, 8])
        s = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if r.random() < e["dob_format"] * scale:
        y, m, d = s.split("-")
        s = f"{d}/{m}/{y}"
    return s


def _pc(r: random.Random, pc: str, e: dict, scale: float) -> str:
    if r.random() < e["pc_missing"] * scale:
        return ""
    if r.random() < e["pc_moved"] * scale:
        pc = _postcode(r)
    if r.random() < e["pc_foreign"] * scale:
        return r.choice(FOREIGN)
    if r.random() < e["pc_outward"] * scale:
        return pc.split(" ")[0]
    if r.random() < e["pc_typo"] * scale:
        pc = (
            _typo(r, pc, LETTERS + "0123456789")
            if r.random() < 0.6
            else _transpose(r, pc)
        )
    if r.random() < e["pc_format"] * scale:
        pc = r.choice(
            [pc.replace(" ", ""), pc.lower(), f" {pc}  ", pc.replace(" ", "-")]
        )
    return pc


def corrupt(r: random.Random, p: dict, e: dict, scale: float) -> dict:
    """One record of person ``p`` with errors at ``scale`` times the rates ``e``."""
    fore, sur = p["forename"], p["surname"]
    if fore in NICKNAMES and r.random() < e["nickname"] * scale:
        fore = r.choice(NICKNAMES[fore])
    if "-" in sur and r.random() < 0.5:
        sur = r.choice(sur.split("-"))
    fore, sur = _name(r, fore, e, scale), _name(r, sur, e, scale)
    if r.random() < e["swap"] * scale:
        fore, sur = sur, fore
    if r.random() < e["name_missing"] * scale:
        if r.random() < 0.5:
            fore = ""
        else:
            sur = ""
    sex = p["sex"]
    if r.random() < e["sex_wrong"] * scale:
        sex = "F" if sex == "M" else "M"
    if r.random() < e["sex_missing"] * min(scale * 3, 1):
        sex = ""
    case = r.choice([str.upper, str.title, str.lower]) if scale > 0.5 else str.title
    return {
        "forename": case(fore),
        "surname": case(sur),
        "dob": _dob(r, p["dob"], e, scale),
        "sex": sex,
        "postcode": _pc(r, p["postcode"], e, scale),
    }


def generate(out: Path, people: int, setting: str, seed: int) -> tuple[Path, Path]:
    """Write ``a.csv``, ``b.csv`` and ``truth.csv`` (a_id, b_id) under ``out``."""
    r = random.Random(seed)
    e = SETTINGS[setting]
    pop = population(r, people)
    out.mkdir(parents=True, exist_ok=True)
    a_ids = r.sample(range(10**6, 10**7), people)
    b_ids = r.sample(range(10**6, 10**7), people)
    fields = ["id", "forename", "surname", "dob", "sex", "postcode"]
    for name, ids, scale in (("a", a_ids, 0.2), ("b", b_ids, 1.0)):
        order = list(range(people))
        r.shuffle(order)
        with (out / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            for i in order:
                w.writerow(
                    {"id": f"{name.upper()}{ids[i]}", **corrupt(r, pop[i], e, scale)}
                )
    with (out / "truth.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["left_id", "right_id"])
        for i in range(people):
            w.writerow([f"A{a_ids[i]}", f"B{b_ids[i]}"])
    return out / "a.csv", out / "b.csv"


def score(pairs: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict:
    tp = len(pairs & truth)
    p = tp / len(pairs) if pairs else 0.0
    rec = tp / len(truth) if truth else 0.0
    f1 = 2 * p * rec / (p + rec) if p + rec else 0.0
    return {"precision": p, "recall": rec, "f1": f1, "pairs": len(pairs)}


def read_pairs(path: Path) -> set[tuple[str, str]]:
    with path.open(newline="") as f:
        return {(row["left_id"], row["right_id"]) for row in csv.DictReader(f)}


def run_link(a: Path, b: Path, out: Path, threshold: float, home: Path) -> float:
    """``pupilshare link`` as a user runs it (a fresh process); seconds."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pupilshare",
            "--home",
            str(home),
            "link",
            str(a),
            str(b),
            "--out",
            str(out),
            "--threshold",
            str(threshold),
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def splink_alone(a: Path, b: Path, threshold: float, postcode: str) -> tuple:
    """Splink with its febrl4 example's settings on the four fields; (pairs, s)."""
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    con = duckdb.connect()
    frames = [
        # the cleaning the example does (strip) and one any user would (one case)
        con.sql(
            f"SELECT id, {CLEANED} FROM read_csv('{p}', all_varchar = true)"
        ).to_arrow_table()
        for p in (a, b)
    ]
    pc = (
        cl.PostcodeComparison("postcode")
        if postcode == "postcode"
        else cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
            term_frequency_adjustments=True
        )
    )
    settings = SettingsCreator(
        unique_id_column_name="id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=[
            block_on("forename", "surname"),
            "l.forename = r.surname and l.surname = r.forename",
            block_on("dob"),
            block_on("postcode"),
        ],
        comparisons=[
            cl.NameComparison("forename").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "dob",
                input_is_string=True,
                datetime_format="%Y-%m-%d",
                invalid_dates_as_null=True,
            ),
            pc,
        ],
    )
    api = DuckDBAPI(con)
    linker = Linker([api.register(f) for f in frames], settings)
    t = linker.training
    t.estimate_probability_two_random_records_match(
        [block_on("forename", "surname", "dob")], recall=0.8
    )
    t.estimate_u_using_random_sampling(max_pairs=1e6)
    t.estimate_parameters_using_expectation_maximisation(
        block_on("dob"), estimate_without_term_frequencies=True
    )
    t.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True
    )
    df = linker.inference.predict(threshold_match_probability=threshold)
    rows = con.sql(f"SELECT id_l, id_r FROM {df.physical_name}").fetchall()
    seconds = time.perf_counter() - started
    con.close()
    # link_only: a pair's sides come in either order
    pairs = {(x, y) if x.startswith("A") else (y, x) for x, y in rows}
    return pairs, seconds


def evaluate(
    setting: str, seed: int, people: int, threshold: float, keep: Path | None
) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        d = keep or Path(tmp)
        a, b = generate(d, people, setting, seed)
        truth = read_pairs(d / "truth.csv")
        link_s = run_link(a, b, d / "pairs.csv", threshold, Path(tmp) / "home")
        ours = score(read_pairs(d / "pairs.csv"), truth)
        lines = [
            f"| {setting} (seed {seed}) | `pupilshare link` | {ours['precision']:.4f} "
            f"| {ours['recall']:.4f} | **{ours['f1']:.4f}** | {link_s:.1f} s |"
        ]
        for pc in ("damerau-levenshtein", "postcode"):
            pairs, s = splink_alone(a, b, threshold, pc)
            sp = score(pairs, truth)
            lines.append(
                f"| {setting} (seed {seed}) | Splink alone, febrl4 settings, postcode "
                f"by {pc} | {sp['precision']:.4f} | {sp['recall']:.4f} | "
                f"{sp['f1']:.4f} | {s:.1f} s ({s / link_s:.2f}x) |"
            )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--setting", choices=[*SETTINGS, "all"], default="all")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--people", type=int, default=5000)
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--keep", type=Path, help="keep the files and pairs here")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    settings = list(SETTINGS) if args.setting == "all" else [args.setting]
    lines = [
        "| files | linker | precision | recall | F1 | time |",
        "|---|---|---|---|---|---|",
    ]
    for s in settings:
        keep = args.keep / s if args.keep else None
        lines += evaluate(s, args.seed, args.people, args.threshold, keep)
    print("\n".join(lines))
    if args.record:
        with Path(__file__).with_name("RESULTS.md").open("a") as f:
            f.write(
                f"\n### link, {date.today()}, {args.people:,} people a file\n\n"
                f"`PYTHONPATH=src python bench/linkeval.py --people {args.people} "
                f"--seed {args.seed} --threshold {args.threshold}`\n\n"
                + "\n".join(lines)
                + "\n"
            )


if __name__ == "__main__":
    main()
