"""Realistic synthetic exports with ground truth, so tests and benchmarks never download data.

`generate(out_dir, people=N, seed=S)` writes a landing folder: the five exports in their
real formats (Segment S3 gzip NDJSON, GA4 BigQuery NDJSON, Meta Lead Ads TSV in UTF-16LE or
UTF-8, Shopify orders CSV, Stripe payments CSV), a `cdp.toml` that reads them, and
`truth.csv` (`source,record_id,person_id`, one row per distinct source record, keyed by
the connector's natural key). Same seed, same bytes: every draw comes from one seeded
numpy generator per source, files are written in a fixed order, gzip has mtime 0.

The population is Spanish (45%), Latin American (20%: MX, AR, CO), US (20%) and UK (15%),
with accents, two Hispanic surnames, compound first names (María José, Juan Carlos) and
nicknames (Pepe/José, Paco/Francisco, Lola/Dolores, Bill/William, Bob/Robert...).

Messiness injected (shares are per rendered record unless said otherwise):
- names: nickname 8%, one half of a compound name 15%, typos 3%, accents dropped
  12-15% (card names always), only the first surname for Hispanic people 40%,
  first/last swapped in lead forms 3%, `Last, First` billing names 3%, all lower or
  upper case 2-10%;
- emails: Gmail dots removed or added on 12-25% of Gmail records, `+tag` 4%,
  Capitalised/UPPER 8%, trailing space 3%; 6% of people have no email and 15% also
  use a work address;
- phones: each record picks one of the country's usual formats (+34, 0034, spaces,
  national, dashes, brackets...); 8% of people have no phone;
- addresses: street abbreviations 25%, leading zero of a postcode dropped (Excel) on 30%
  of Shopify records whose postcode starts with 0; 10% of households moved during the
  period, so their older records carry the old address;
- birth dates: typed with day and month swapped 3%;
- duplicates: 2% of Segment messages delivered twice, 3% of Meta leads in two downloads.

Hard negatives (different people that look alike):
- common names (Zipf-weighted vocabularies), and 8% of single people (about 2.5% of the
  population) given the exact full name of an unrelated person of the same locale;
- families (38% of households have 2-4 members) sharing surnames, address and the
  head's phone number, which members also type in (40% of their form records);
- twins: in 60% of 4-person households the two children share birth date, surnames and
  address;
- placeholder junk (`test@test.com`, `0000000000`, `N/A`, ...) typed by 2% of people
  (at least 2) in lead forms and shop orders;
- shared devices: a family tablet (30% of families) whose browser cookie and app install
  all members use (35% of their events); iOS users with limited ad tracking (25%) all
  report the all-zero IDFA; 25% of family members pay with the head's card.

`population(people, seed)` returns the true people behind a run (for evaluation).
"""

from __future__ import annotations

from cdp.synth.generate import SynthSummary, generate, population

__all__ = ["SynthSummary", "generate", "population"]
