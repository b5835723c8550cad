-- A trimmed, Pagila-shaped fixture for restoredrill's reapply tests (PostgreSQL 13+).
--
-- Source: modelled on the Pagila sample database (github.com/devrimgunduz/pagila,
-- pagila-schema.sql), Copyright (c) Devrim Gündüz, distributed under a permissive
-- MIT-style licence ("Permission is hereby granted, free of charge, ... The above copyright
-- notice and this permission notice shall be included in all copies or substantial portions
-- of the Software."). Pagila itself is a port of MySQL's Sakila (BSD).
-- Written for restoredrill, not copied: the table shapes, types, triggers and the foreign
-- keys declared on the payment partitions follow Pagila; the rows are generated below.
-- Kept from Pagila: the public.year domain, the public.mpaa_rating enum, text[] columns, the
-- tsvector_update_trigger on film, last_updated() BEFORE UPDATE triggers, payment partitioned
-- by month with its foreign keys declared on each partition (not on the parent), a generated
-- column (Pagila's film.length_hours, STORED here: VIRTUAL needs PostgreSQL 18).
-- Added for the tests: a composite type in another schema (extra.contact).

CREATE DOMAIN public.year AS integer
    CONSTRAINT year_check CHECK (((VALUE >= 1901) AND (VALUE <= 2155)));
CREATE TYPE public.mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');
CREATE SCHEMA extra;
CREATE TYPE extra.contact AS (phone text, postal_code text);

CREATE FUNCTION public.last_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_update = CURRENT_TIMESTAMP;
    RETURN NEW;
END $$;

CREATE TABLE public.language (
    language_id serial PRIMARY KEY,
    name text NOT NULL,
    last_update timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.film (
    film_id serial PRIMARY KEY,
    title text NOT NULL,
    description text,
    release_year public.year,
    language_id integer NOT NULL REFERENCES public.language (language_id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    rental_duration smallint DEFAULT 3 NOT NULL,
    rental_rate numeric(4,2) DEFAULT 4.99 NOT NULL,
    length smallint,
    replacement_cost numeric(5,2) DEFAULT 19.99 NOT NULL,
    rating public.mpaa_rating DEFAULT 'G'::public.mpaa_rating,
    last_update timestamp with time zone DEFAULT now() NOT NULL,
    special_features text[],
    fulltext tsvector NOT NULL,
    length_hours numeric(4,2) GENERATED ALWAYS AS (round(length / 60.0, 2)) STORED
);

CREATE TABLE public.store (
    store_id serial PRIMARY KEY,
    manager_staff_id integer NOT NULL,
    last_update timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.staff (
    staff_id serial PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    email text,
    store_id integer NOT NULL REFERENCES public.store (store_id),
    active boolean DEFAULT true NOT NULL,
    username text NOT NULL,
    last_update timestamp with time zone DEFAULT now() NOT NULL,
    picture bytea
);

CREATE TABLE public.customer (
    customer_id serial PRIMARY KEY,
    store_id integer NOT NULL REFERENCES public.store (store_id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    first_name text NOT NULL,
    last_name text NOT NULL,
    email text,
    contact extra.contact,
    activebool boolean DEFAULT true NOT NULL,
    create_date date DEFAULT CURRENT_DATE NOT NULL,
    last_update timestamp with time zone DEFAULT now(),
    active integer
);

CREATE TABLE public.inventory (
    inventory_id serial PRIMARY KEY,
    film_id integer NOT NULL REFERENCES public.film (film_id) ON UPDATE CASCADE ON DELETE RESTRICT,
    store_id integer NOT NULL REFERENCES public.store (store_id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    last_update timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.rental (
    rental_id serial PRIMARY KEY,
    rental_date timestamp with time zone NOT NULL,
    inventory_id integer NOT NULL REFERENCES public.inventory (inventory_id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    customer_id integer NOT NULL REFERENCES public.customer (customer_id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    return_date timestamp with time zone,
    staff_id integer NOT NULL REFERENCES public.staff (staff_id)
        ON UPDATE CASCADE ON DELETE RESTRICT,
    last_update timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.payment (
    payment_id serial NOT NULL,
    customer_id integer NOT NULL,
    staff_id integer NOT NULL,
    rental_id integer NOT NULL,
    amount numeric(5,2) NOT NULL,
    payment_date timestamp with time zone NOT NULL,
    PRIMARY KEY (payment_date, payment_id)
) PARTITION BY RANGE (payment_date);

-- One partition a month; the foreign keys are declared on each partition, as in Pagila.
DO $$
DECLARE
    m integer;
    part text;
BEGIN
    FOR m IN 1..6 LOOP
        part := format('payment_p2022_%s', lpad(m::text, 2, '0'));
        EXECUTE format(
            'CREATE TABLE public.%I PARTITION OF public.payment FOR VALUES FROM (%L) TO (%L)',
            part, make_timestamptz(2022, m, 1, 0, 0, 0, 'UTC'),
            make_timestamptz(2022, m, 1, 0, 0, 0, 'UTC') + interval '1 month');
        EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I FOREIGN KEY (customer_id)'
                       ' REFERENCES public.customer (customer_id)', part, part || '_customer_id_fkey');
        EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I FOREIGN KEY (rental_id)'
                       ' REFERENCES public.rental (rental_id)', part, part || '_rental_id_fkey');
        EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I FOREIGN KEY (staff_id)'
                       ' REFERENCES public.staff (staff_id)', part, part || '_staff_id_fkey');
    END LOOP;
END $$;

CREATE TRIGGER film_fulltext_trigger BEFORE INSERT OR UPDATE ON public.film FOR EACH ROW
    EXECUTE FUNCTION tsvector_update_trigger('fulltext', 'pg_catalog.english', 'title', 'description');
CREATE TRIGGER last_updated BEFORE UPDATE ON public.language FOR EACH ROW EXECUTE FUNCTION public.last_updated();
CREATE TRIGGER last_updated BEFORE UPDATE ON public.film FOR EACH ROW EXECUTE FUNCTION public.last_updated();
CREATE TRIGGER last_updated BEFORE UPDATE ON public.store FOR EACH ROW EXECUTE FUNCTION public.last_updated();
CREATE TRIGGER last_updated BEFORE UPDATE ON public.staff FOR EACH ROW EXECUTE FUNCTION public.last_updated();
CREATE TRIGGER last_updated BEFORE UPDATE ON public.customer FOR EACH ROW EXECUTE FUNCTION public.last_updated();
CREATE TRIGGER last_updated BEFORE UPDATE ON public.inventory FOR EACH ROW EXECUTE FUNCTION public.last_updated();
CREATE TRIGGER last_updated BEFORE UPDATE ON public.rental FOR EACH ROW EXECUTE FUNCTION public.last_updated();

-- Rows: generated, deterministic (no now()): last_update is given explicitly everywhere.
INSERT INTO public.language (name, last_update)
SELECT l, timestamptz '2022-02-15 10:02:19+00'
FROM unnest(ARRAY['English', 'Italian', 'Japanese', 'Mandarin', 'French', 'German']) AS l;

INSERT INTO public.film (title, description, release_year, language_id, rental_duration,
                         rental_rate, length, replacement_cost, rating, last_update,
                         special_features, fulltext)
SELECT 'FILM ' || upper(substr(md5(g::text), 1, 8)),
       'A ' || (ARRAY['Epic', 'Quiet', 'Fateful', 'Brilliant'])[1 + g % 4] || ' story of a '
           || (ARRAY['dentist', 'robot', 'moose', 'astronaut', 'cat'])[1 + g % 5] || ' in '
           || (ARRAY['Nigeria', 'a Shark Tank', 'Berlin', 'the Gulf of Mexico'])[1 + g % 4],
       (2000 + g % 20)::public.year,
       1 + g % 6,
       (3 + g % 5)::smallint,
       (ARRAY[0.99, 2.99, 4.99])[1 + g % 3],
       (46 + g * 7 % 140)::smallint,
       (9.99 + g % 21)::numeric(5,2),
       (enum_range(NULL::public.mpaa_rating))[1 + g % 5],
       timestamptz '2022-09-10 16:46:03.905795+00' + g * interval '1 second',
       CASE g % 4 WHEN 0 THEN ARRAY['Trailers'] WHEN 1 THEN ARRAY['Commentaries', 'Deleted Scenes']
                  WHEN 2 THEN NULL ELSE ARRAY['Behind the Scenes', 'Trailers'] END,
       ''  -- film_fulltext_trigger fills it in
FROM generate_series(1, 60) AS g;

INSERT INTO public.store (manager_staff_id, last_update)
VALUES (1, timestamptz '2022-02-15 09:57:12+00'), (2, timestamptz '2022-02-15 09:57:12+00');

INSERT INTO public.staff (first_name, last_name, email, store_id, username, last_update, picture)
VALUES ('Mike', 'Hillyer', 'Mike.Hillyer@example.org', 1, 'Mike',
        timestamptz '2022-05-16 16:13:11.79328+00', '\x89504e470d0a1a0a'),
       ('Jon', 'Stephens', 'Jon.Stephens@example.org', 2, 'Jon',
        timestamptz '2022-05-16 16:13:11.79328+00', NULL);

INSERT INTO public.customer (store_id, first_name, last_name, email, contact, activebool,
                             create_date, last_update, active)
SELECT 1 + g % 2,
       (ARRAY['MARY', 'PATRICIA', 'LINDA', 'BARBARA', 'ÉLODIE', 'ŞÜKRÜ'])[1 + g % 6],
       'LAST' || g,
       CASE WHEN g % 9 = 0 THEN NULL ELSE 'customer' || g || '@example.org' END,
       CASE WHEN g % 4 = 0 THEN NULL
            ELSE ROW('+1 555 01' || lpad(g::text, 2, '0'), lpad((g * 37 % 99999)::text, 5, '0'))::extra.contact
       END,
       g % 10 <> 0,
       date '2022-02-14' + g % 3,
       timestamptz '2022-02-15 09:57:20+00' + g * interval '1 millisecond',
       CASE WHEN g % 10 = 0 THEN 0 ELSE 1 END
FROM generate_series(1, 100) AS g;

INSERT INTO public.inventory (film_id, store_id, last_update)
SELECT 1 + g % 60, 1 + g % 2, timestamptz '2022-02-15 10:09:17+00'
FROM generate_series(1, 150) AS g;

INSERT INTO public.rental (rental_date, inventory_id, customer_id, return_date, staff_id, last_update)
SELECT timestamptz '2022-01-01 00:00:00+00' + g * interval '13 hours 7 minutes 11.5 seconds',
       1 + g % 150,
       1 + g % 100,
       CASE WHEN g % 17 = 0 THEN NULL
            ELSE timestamptz '2022-01-01 00:00:00+00' + g * interval '13 hours 7 minutes 11.5 seconds'
                 + (1 + g % 7) * interval '1 day' END,
       1 + g % 2,
       timestamptz '2022-02-16 02:30:53+00'
FROM generate_series(1, 300) AS g;

INSERT INTO public.payment (customer_id, staff_id, rental_id, amount, payment_date)
SELECT r.customer_id, r.staff_id, r.rental_id, (0.99 + r.rental_id % 10)::numeric(5,2),
       r.rental_date + interval '37 minutes 3.123456 seconds'
FROM public.rental r
WHERE r.rental_date < timestamptz '2022-06-30 00:00:00+00'
ORDER BY r.rental_id;
