"""Deterministic multi-user conversational corpus.

Every user has a profile of facts drawn from slot templates (where they live, their job, pets, food,
hobbies, family, plans...). Conversation turns state one to three of those facts in natural first-person
sentences, sometimes revising an earlier one ("I moved to Porto"), with an optional assistant reply.
The expected extraction of each turn (third-person fact texts) and each fact's slot travel with the
corpus, so the fake model server can answer extraction and update prompts from it.

    python -m harness.corpus OUT.json [--users N] [--turns-per-user N] [--seed S]
"""
import argparse
import json
import random

CITIES = ("Lisbon Porto Berlin Munich Paris Lyon Madrid Seville Rome Milan Vienna Prague Warsaw Krakow Oslo "
          "Bergen Stockholm Helsinki Dublin Edinburgh Manchester Bristol Amsterdam Utrecht Brussels Zurich Geneva "
          "Toronto Montreal Vancouver Chicago Boston Seattle Denver Austin Portland Tokyo Osaka Kyoto Seoul "
          "Busan Taipei Singapore Sydney Melbourne Auckland Nairobi Lagos Accra Cairo").split()
JOBS = ("nurse|teacher|software engineer|civil engineer|accountant|graphic designer|chef|pharmacist|dentist|"
        "electrician|architect|journalist|lawyer|data analyst|veterinarian|physiotherapist|firefighter|"
        "librarian|photographer|product manager|barista|pilot|carpenter|translator|researcher|plumber|"
        "social worker|marketing manager|UX designer|bus driver").split("|")
COMPANIES = ("a small bakery|a hospital|a bank|a startup|a university|a city council|a law firm|an airline|"
             "a supermarket chain|a game studio|a museum|a newspaper|an insurance company|a school|"
             "a logistics company|a hotel|a pharmacy|a car factory|a bookshop|a consulting firm").split("|")
PETS = "dog cat parrot rabbit hamster tortoise goldfish horse ferret guinea pig".split(" ")
PETNAMES = "Max Luna Bella Charlie Milo Coco Rocky Daisy Oscar Nala Simba Pepper Ziggy Mochi Biscuit Olive".split()
FOODS = ("sushi|ramen|pizza|tacos|paella|curry|dumplings|pasta carbonara|falafel|pho|croissants|dark chocolate|"
         "grilled fish|mushroom risotto|pad thai|lasagna|miso soup|greek salad|pancakes|blueberry muffins|"
         "spicy noodles|cheesecake|apple pie|lentil soup|bibimbap").split("|")
ALLERGENS = "peanuts|shellfish|gluten|lactose|eggs|soy|sesame|tree nuts|strawberries|penicillin|cat hair|pollen".split("|")
HOBBIES = ("hiking|rock climbing|painting|knitting|gardening|baking bread|photography|birdwatching|chess|"
           "playing video games|woodworking|pottery|running|cycling|swimming|yoga|fishing|camping|"
           "sailing|surfing|skiing|dancing salsa|writing poetry|reading science fiction|board games").split("|")
SPORTS = "football|basketball|tennis|volleyball|badminton|table tennis|rugby|cricket|golf|handball|squash".split("|")
GENRES = "jazz|classical|rock|hip hop|techno|folk|blues|k-pop|reggae|opera|metal|country|bossa nova".split("|")
INSTRUMENTS = "piano|guitar|violin|cello|drums|flute|saxophone|trumpet|ukulele|harp".split("|")
RELATIONS = "sister|brother|daughter|son|wife|husband|partner|best friend|mother|father|grandmother|cousin".split("|")
NAMES = ("Ana Joao Maria Pedro Sofia Lucas Emma Noah Olivia Liam Mia Leo Yuki Hana Min-jun Aisha Omar Fatima "
         "Kwame Ama Ingrid Lars Chloe Hugo Elena Marco Giulia Tomas Zofia Piotr Nadia Ravi Priya Chen Mei").split()
LANGUAGES = "Spanish|French|German|Japanese|Korean|Mandarin|Italian|Portuguese|Arabic|Swahili|Polish|Dutch".split("|")
COUNTRIES = ("Japan|Peru|Iceland|Morocco|Vietnam|Norway|Mexico|Kenya|New Zealand|Portugal|Greece|Canada|"
             "Argentina|Thailand|Scotland|Croatia|Chile|Indonesia").split("|")
MONTHS = "January February March April May June July August September October November December".split()
DRINKS = "green tea|black coffee|espresso|oat milk latte|matcha|chamomile tea|orange juice|hot chocolate".split("|")
CARS = "an old Volvo|a red Fiat|an electric Nissan|a Toyota hybrid|a VW camper van|a Honda motorbike|a cargo bike".split("|")
FIELDS = "biology|history|mechanical engineering|economics|philosophy|computer science|nursing|music|law|chemistry".split("|")
DISLIKES = ("cold weather|crowded trains|horror movies|loud music|spicy food|early meetings|flying|olives|"
            "reality TV|mosquitoes|traffic jams|long phone calls").split("|")
GOALS = ("run a marathon|learn to cook Thai food|save for a house|write a novel|get a pilot licence|"
         "visit every national park|learn to swim|start a small business|climb Kilimanjaro|finish a PhD").split("|")
SHOWS = "Breaking Bad|The Office|Dark|Succession|Friends|Planet Earth|The Crown|Severance|Arcane|Shogun".split("|")
BOOKS = ("Dune|One Hundred Years of Solitude|Pride and Prejudice|The Hobbit|Norwegian Wood|Sapiens|"
         "The Little Prince|Blindness|Beloved|The Name of the Wind").split("|")


def _v(*xs):
    return xs


# slot, single-valued?, value generator, fact template, message templates
SLOTS = [
    ("city", True, lambda r: r.choice(CITIES), "Lives in {v}",
     ("I live in {v}.", "I've been living in {v} for a few years now.", "These days I'm based in {v}."),
     ("I just moved to {v}.", "We relocated to {v} last month.")),
    ("job", True, lambda r: r.choice(JOBS), "Works as a {v}",
     ("I work as a {v}.", "I'm a {v} by profession.", "My job? I'm a {v}."),
     ("I changed careers and now work as a {v}.", "I started a new job as a {v}.")),
    ("employer", True, lambda r: r.choice(COMPANIES), "Works at {v}",
     ("I work at {v}.", "My employer is {v}."), ("I switched jobs, now I'm at {v}.",)),
    ("pet", False, lambda r: f"a {r.choice(PETS)} named {r.choice(PETNAMES)}", "Has {v}",
     ("I have {v}.", "At home I've got {v}."), ()),
    ("food", False, lambda r: r.choice(FOODS), "Loves {v}",
     ("I absolutely love {v}.", "{V} is my favourite food.", "I could eat {v} every day."), ()),
    ("allergy", False, lambda r: r.choice(ALLERGENS), "Is allergic to {v}",
     ("I'm allergic to {v}.", "I have to avoid {v}, I'm allergic."), ()),
    ("hobby", False, lambda r: r.choice(HOBBIES), "Enjoys {v}",
     ("On weekends I usually go {v}.", "My favourite hobby is {v}.", "I spend my free time {v}."), ()),
    ("sport", False, lambda r: r.choice(SPORTS), "Plays {v}",
     ("I play {v} twice a week.", "I'm in a local {v} team."), ()),
    ("music", False, lambda r: r.choice(GENRES), "Listens to {v} music",
     ("I mostly listen to {v}.", "{V} is my kind of music."), ()),
    ("instrument", False, lambda r: r.choice(INSTRUMENTS), "Plays the {v}",
     ("I play the {v}.", "I've been learning the {v} since childhood."), ()),
    ("family", False, lambda r: f"a {r.choice(RELATIONS)} named {r.choice(NAMES)}", "Has {v}",
     ("I have {v}.", "You should meet my family, I have {v}."), ()),
    ("language", False, lambda r: r.choice(LANGUAGES), "Is learning {v}",
     ("I'm learning {v} at the moment.", "I take {v} lessons every Tuesday."), ()),
    ("trip", False, lambda r: f"{r.choice(COUNTRIES)} in {r.choice(MONTHS)}", "Plans a trip to {v}",
     ("I'm planning a trip to {v}.", "We booked a holiday: {v}."), ()),
    ("birthday", True, lambda r: f"{r.choice(MONTHS)} {r.randint(1, 28)}", "Birthday is on {v}",
     ("My birthday is on {v}.", "I was born on {v}."), ()),
    ("drink", True, lambda r: r.choice(DRINKS), "Drinks {v} every morning",
     ("Every morning I drink {v}.", "I can't start the day without {v}."),
     ("I switched to {v} in the mornings.",)),
    ("car", True, lambda r: r.choice(CARS), "Drives {v}",
     ("I drive {v}.", "I get around with {v}."), ("I sold my car and got {v}.",)),
    ("study", True, lambda r: r.choice(FIELDS), "Studied {v} at university",
     ("I studied {v} at university.", "My degree is in {v}."), ()),
    ("dislike", False, lambda r: r.choice(DISLIKES), "Dislikes {v}",
     ("I really can't stand {v}.", "I hate {v}."), ()),
    ("goal", False, lambda r: r.choice(GOALS), "Wants to {v}",
     ("One day I want to {v}.", "My big goal this year is to {v}."), ()),
    ("show", False, lambda r: r.choice(SHOWS), "Is watching {v}",
     ("I'm currently watching {v}.", "I'm hooked on {v} right now."), ()),
    ("book", False, lambda r: r.choice(BOOKS), "Likes the book {v}",
     ("I loved reading {v}.", "{V} is one of my favourite books."), ()),
]
SLOT_INDEX = {s[0]: s for s in SLOTS}
OPENERS = ("", "", "", "By the way, ", "Oh, and ", "Just so you know, ", "Fun fact: ", "Also, ")
REPLIES = ("", "", "That's great to hear!", "Thanks for sharing that with me.", "Noted, I'll remember that.",
           "Interesting! Tell me more.", "Got it.")
QUESTIONS = {
    "city": "Which city do I live in?", "job": "What do I do for work?", "employer": "Where do I work?",
    "pet": "What pets do I have?", "food": "What food do I love?", "allergy": "What am I allergic to?",
    "hobby": "What do I enjoy doing in my free time?", "sport": "Which sport do I play?",
    "music": "What music do I listen to?", "instrument": "Which instrument do I play?",
    "family": "Who is in my family?", "language": "Which language am I learning?",
    "trip": "Where am I planning a trip?", "birthday": "When is my birthday?",
    "drink": "What do I drink every morning?", "car": "What do I drive?",
    "study": "What did I study at university?", "dislike": "What do I dislike?",
    "goal": "What do I want to achieve?", "show": "What am I watching?", "book": "Which books do I like?",
}


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _sentence(template: str, value: str) -> str:
    return template.replace("{V}", _cap(value)).replace("{v}", value)


def user_id(i: int) -> str:
    return f"user{i:05d}"


def user_facts(u: int, n: int, seed: int = 1) -> list[tuple[str, str]]:
    """The first `n` distinct (slot, fact) pairs of user `u`'s profile (single-valued slots once)."""
    r = random.Random(f"{seed}:facts:{u}")
    out, seen, used_single = [], set(), set()
    tries = 0
    while len(out) < n and tries < n * 50:
        tries += 1
        slot, single, gen, fact_t, _, _ = r.choice(SLOTS)
        if single and slot in used_single:
            continue
        fact = _sentence(fact_t, gen(r))
        if fact in seen:
            continue
        seen.add(fact)
        if single:
            used_single.add(slot)
        out.append((slot, fact))
    while len(out) < n:  # tiny profiles exhausted: numbered extra facts stay distinct
        out.append(("note", f"Keeps note number {len(out)} about {r.choice(HOBBIES)}"))
    return out


def query_for(r: random.Random, slot: str | None = None) -> str:
    return QUESTIONS[slot or r.choice(list(QUESTIONS))]


def conversation(u: int, turns: int, seed: int = 1) -> list[dict]:
    """`turns` user turns for user `u`, each stating 1–3 facts; ~10 % revise a single-valued slot."""
    r = random.Random(f"{seed}:conv:{u}")
    profile = user_facts(u, turns * 3 + 10, seed)
    stated = {}
    out, k = [], 0
    for _ in range(turns):
        pieces, facts = [], []
        for _ in range(r.choice((1, 2, 2, 2, 3))):
            revisable = [s for s in stated if SLOT_INDEX[s][1] and SLOT_INDEX[s][5]]
            if revisable and r.random() < 0.1:
                slot = r.choice(revisable)
                _, _, gen, fact_t, _, rev_t = SLOT_INDEX[slot]
                value = gen(r)
                fact = _sentence(fact_t, value)
                if fact == stated[slot]:
                    continue
                sentence = _sentence(r.choice(rev_t), value)
            else:
                if k >= len(profile):
                    break
                slot, fact = profile[k]
                k += 1
                if slot == "note":
                    sentence = fact.replace("Keeps", "I keep") + "."
                else:
                    _, _, _, fact_t, msg_t, _ = SLOT_INDEX[slot]
                    value = _value_of(fact_t, fact)
                    sentence = _sentence(r.choice(msg_t), value)
            stated[slot] = fact
            pieces.append(r.choice(OPENERS) + sentence if pieces else sentence)
            facts.append({"slot": slot, "text": fact})
        if not facts:
            continue
        out.append({"user_id": user_id(u), "user": " ".join(pieces), "assistant": r.choice(REPLIES),
                    "facts": facts})
    return out


def _value_of(fact_template: str, fact: str) -> str:
    head, tail = fact_template.split("{v}")
    return fact[len(head): len(fact) - len(tail) if tail else None]


def build(users: int, turns_per_user: int, seed: int = 1) -> dict:
    turns = []
    for u in range(users):
        turns.extend(conversation(u, turns_per_user, seed))
    return {"seed": seed, "users": users, "turns_per_user": turns_per_user, "turns": turns}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--turns-per-user", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    data = build(a.users, a.turns_per_user, a.seed)
    with open(a.out, "w") as f:
        json.dump(data, f, ensure_ascii=False)
    n_facts = sum(len(t["facts"]) for t in data["turns"])
    print(f"{len(data['turns'])} turns, {n_facts} facts, {a.users} users -> {a.out}")


if __name__ == "__main__":
    main()
