"""Name and street lists for the synthetic nation, written for pupilshare.

Frequencies are rough (earlier names are drawn more often); the lists mix names
common in English schools, including accented and hyphenated ones, so collection
must read UTF-8 correctly and matching meets real variety. Nicknames are the
variants parents and partners write instead of the legal forename.
"""

from __future__ import annotations

BOYS = (
    "Oliver Muhammad George Noah Arthur Leo Harry Oscar Archie Henry Theodore Freddie "
    "Jack Charlie Theo Alfie Jacob Thomas William Lucas Tommy Isaac Joshua James "
    "Alexander Samuel Daniel Benjamin Joseph Edward Max Mohammed Adam Reuben Finley "
    "Ethan Logan Harrison Sebastian Ryan Dylan Elijah Jaxon Rory Matthew Luca Toby "
    "Louie Hugo Jude Tyler Michael Christopher Nathan Liam Aaron Ibrahim Yusuf Ayaan "
    "Arjun Rohan Hamza Omar Ali Kacper Jakub Oluwaseun Kwame Chidi Tobiloba Mateo "
    "José Rhys Dafydd Cian Seán Callum Ewan Kieran Nicholas Robert Anthony Jonathan "
    "Stanley Frederick Albert Ronan Zain Aryan Wei Jun Minh Andrei Mihai Emil Kai"
).split()

GIRLS = (
    "Olivia Amelia Isla Ava Ivy Freya Lily Florence Mia Willow Rosie Sophia Isabella "
    "Grace Daisy Sienna Poppy Elsie Emily Ella Evelyn Phoebe Sofia Evie Charlotte "
    "Harper Millie Matilda Maya Sophie Alice Emilia Isabelle Ruby Hallie Elizabeth "
    "Jessica Chloe Eleanor Ellie Lucy Hannah Scarlett Abigail Katherine Victoria "
    "Margaret Rebecca Samantha Jennifer Alexandra Natalie Megan Holly Layla Aisha "
    "Fatima Maryam Zara Hafsa Amira Inaya Priya Anaya Simran Zoë Chloé Renée Siân "
    "Niamh Aoife Saoirse Caoimhe Seren Cerys Zuzanna Julia Maja Oliwia Adaeze Chioma "
    "Amara Abimbola Ngozi Mei Xin Linh Ana Ioana Lucía Amélie Anna-Maria Mary-Jane"
).split()

SURNAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Robinson Wright "
    "Thompson Evans Walker White Roberts Green Hall Thomas Clarke Jackson Wood Harris "
    "Edwards Turner Martin Cooper Hill Ward Hughes Moore Clark King Harrison Lewis "
    "Baker Lee Allen Morris Khan Scott Watson Davis Parker James Bennett Young "
    "Phillips Richardson Mitchell Bailey Carter Cook Singh Shaw Bell Collins Morgan "
    "Kelly Begum Miller Cox Hussain Marshall Simpson Price Anderson Adams Wilkinson "
    "Ali Ahmed Foster Ellis Murphy Chapman Mason Gray Richards Webb Griffiths Hunt "
    "Palmer Campbell Holmes Mills Rogers Barnes Knight Matthews Barker Powell Stevens "
    "Kaur Fisher Butler Dixon Russell Harvey Pearson Graham O'Brien O'Connor "
    "O'Sullivan McCarthy MacDonald Fitzgerald Smith-Jones Lloyd-Evans Nowak Kowalski "
    "Wiśniewski Okafor Mensah Adeyemi Okonkwo Nguyen Chen Wang Li Zhang Santos "
    "da Silva Ferreira Popescu Ionescu Yilmaz Demir Kowalczyk Rahman Uddin Chowdhury "
    "Iqbal Malik Sharma Gupta Shah Mistry Mahmood Akhtar Hassan Abdi Farah Mohamed "
    "Osei Boateng Asante Brennan Doherty Gallagher Kennedy Reid Stewart Murray Ross "
    "Fraser Hamilton Robertson Bowen Pritchard Vaughan Llewellyn Jenkins Rees Owen "
    "Morgan-Rees Sinclair Whitfield Ashworth Hargreaves Sutcliffe Brontë Dubois "
    "Müller Schäfer García López Martínez Rossi Bianchi Novák Horvát Papadopoulos"
).split()

# Legal forename -> the short form parents or partners often write instead.
NICKNAMES: dict[str, str] = {
    "Thomas": "Tom",
    "Elizabeth": "Beth",
    "William": "Will",
    "James": "Jim",
    "Alexander": "Alex",
    "Samuel": "Sam",
    "Daniel": "Dan",
    "Benjamin": "Ben",
    "Joseph": "Joe",
    "Edward": "Ed",
    "Matthew": "Matt",
    "Michael": "Mike",
    "Christopher": "Chris",
    "Nicholas": "Nick",
    "Robert": "Rob",
    "Anthony": "Tony",
    "Jonathan": "Jon",
    "Frederick": "Fred",
    "Albert": "Bert",
    "Theodore": "Teddy",
    "Jacob": "Jake",
    "Nathan": "Nate",
    "Harrison": "Harry",
    "Stanley": "Stan",
    "Sebastian": "Seb",
    "Oliver": "Ollie",
    "Katherine": "Kate",
    "Victoria": "Vicky",
    "Margaret": "Maggie",
    "Rebecca": "Becky",
    "Samantha": "Sam",
    "Jennifer": "Jenny",
    "Alexandra": "Alex",
    "Natalie": "Nat",
    "Isabella": "Bella",
    "Isabelle": "Izzy",
    "Eleanor": "Ellie",
    "Charlotte": "Lottie",
    "Abigail": "Abi",
    "Jessica": "Jess",
    "Florence": "Flo",
    "Matilda": "Tilly",
    "Sophia": "Sophie",
    "Evelyn": "Evie",
    "Amelia": "Millie",
    "Olivia": "Liv",
    "Hannah": "Annie",
    "Alice": "Ally",
    "Emily": "Em",
    "Lucía": "Lucia",
}

STREETS = (
    "High Street, Station Road, Church Lane, Mill Lane, Park Road, Victoria Road, "
    "Green Lane, Manor Road, Church Street, Kings Road, Queens Road, New Road, "
    "Grange Road, School Lane, The Crescent, Oak Avenue, Elm Grove, Willow Close, "
    "Meadow View, Orchard Way, Chapel Street, North Street, West End, Bridge Street, "
    "Springfield Road, Highfield Road, York Road, Albert Road, Windsor Close, "
    "Beech Drive, Cedar Court, Hawthorn Way, St John's Road, Rose Hill, Brook Street"
).split(", ")

# The seed agreement nab-awards looks up candidates of the Northern Awarding Body.
AWARDING_BODIES = ("AQA", "Pearson", "OCR", "WJEC Eduqas", "Northern Awarding Body")

GCSE_SUBJECTS: tuple[tuple[str, float], ...] = (
    ("English Language", 1.0),
    ("English Literature", 0.92),
    ("Mathematics", 1.0),
    ("Combined Science", 0.75),
    ("History", 0.42),
    ("Geography", 0.40),
    ("French", 0.22),
    ("Spanish", 0.20),
    ("Computer Science", 0.16),
    ("Religious Studies", 0.35),
    ("Art and Design", 0.25),
    ("Music", 0.08),
    ("Design and Technology", 0.15),
    ("Physical Education", 0.14),
    ("Business", 0.15),
    ("Biology", 0.22),
)

ALEVEL_SUBJECTS = (
    "Mathematics",
    "Further Mathematics",
    "Biology",
    "Chemistry",
    "Physics",
    "Psychology",
    "History",
    "English Literature",
    "Economics",
    "Sociology",
    "Geography",
    "Art and Design",
    "Computer Science",
    "Politics",
    "French",
)
