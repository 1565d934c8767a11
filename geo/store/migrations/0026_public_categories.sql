-- Which categories the public may report, with a short description of each for the
-- citizen page (data/categories.csv: columns public, hint_zh, hint_en). A catalogue
-- loaded before this migration gets them from the default file on first use
-- (geo.issues.catalogue.public_categories).
ALTER TABLE categories
    ADD COLUMN public  boolean NOT NULL DEFAULT false,
    ADD COLUMN hint_zh text,
    ADD COLUMN hint_en text;
