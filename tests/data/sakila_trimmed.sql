-- A trimmed, Sakila-shaped fixture for restoredrill's reapply tests (MariaDB 10.6+).
--
-- Source: modelled on MySQL's Sakila sample database as published in
-- github.com/jOOQ/sakila (mysql-sakila-db/mysql-sakila-schema.sql), BSD 2-Clause licence,
-- Copyright (c) 2021, jOOQ Object Oriented Querying (Sakila itself: Copyright (c) 2006, 2019,
-- Oracle, BSD licence). The BEFORE INSERT triggers customer_create_date, payment_date and
-- rental_date are those of the original Sakila schema (jOOQ's copy leaves them out).
-- Written for restoredrill, not copied: the table shapes, ENUM/SET/YEAR columns,
-- ON UPDATE CURRENT_TIMESTAMP stamps, the store <-> staff foreign-key cycle and the triggers
-- follow Sakila; address/city/country are left out, the rows are generated below, and a
-- generated column (film.length_hours) is added for the tests.
-- Statements end with ";" at the end of a line (the tests split on that).

SET timestamp = UNIX_TIMESTAMP('2022-02-15 04:57:20');
SET FOREIGN_KEY_CHECKS = 0;

CREATE TABLE language (
  language_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name CHAR(20) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (language_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE film (
  film_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  title VARCHAR(128) NOT NULL,
  description TEXT DEFAULT NULL,
  release_year YEAR DEFAULT NULL,
  language_id TINYINT UNSIGNED NOT NULL,
  rental_duration TINYINT UNSIGNED NOT NULL DEFAULT 3,
  rental_rate DECIMAL(4,2) NOT NULL DEFAULT 4.99,
  length SMALLINT UNSIGNED DEFAULT NULL,
  replacement_cost DECIMAL(5,2) NOT NULL DEFAULT 19.99,
  rating ENUM('G','PG','PG-13','R','NC-17') DEFAULT 'G',
  special_features SET('Trailers','Commentaries','Deleted Scenes','Behind the Scenes') DEFAULT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  length_hours DECIMAL(4,2) AS (ROUND(length / 60, 2)) STORED,
  PRIMARY KEY (film_id),
  KEY idx_title (title),
  CONSTRAINT fk_film_language FOREIGN KEY (language_id) REFERENCES language (language_id)
    ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE staff (
  staff_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
  first_name VARCHAR(45) NOT NULL,
  last_name VARCHAR(45) NOT NULL,
  picture BLOB DEFAULT NULL,
  email VARCHAR(50) DEFAULT NULL,
  store_id TINYINT UNSIGNED NOT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  username VARCHAR(16) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (staff_id),
  CONSTRAINT fk_staff_store FOREIGN KEY (store_id) REFERENCES store (store_id)
    ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE store (
  store_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
  manager_staff_id TINYINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (store_id),
  UNIQUE KEY idx_unique_manager (manager_staff_id),
  CONSTRAINT fk_store_staff FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id)
    ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE customer (
  customer_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  store_id TINYINT UNSIGNED NOT NULL,
  first_name VARCHAR(45) NOT NULL,
  last_name VARCHAR(45) NOT NULL,
  email VARCHAR(50) DEFAULT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  create_date DATETIME NOT NULL,
  last_update TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (customer_id),
  KEY idx_last_name (last_name),
  CONSTRAINT fk_customer_store FOREIGN KEY (store_id) REFERENCES store (store_id)
    ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE inventory (
  inventory_id MEDIUMINT UNSIGNED NOT NULL AUTO_INCREMENT,
  film_id SMALLINT UNSIGNED NOT NULL,
  store_id TINYINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (inventory_id),
  CONSTRAINT fk_inventory_store FOREIGN KEY (store_id) REFERENCES store (store_id)
    ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT fk_inventory_film FOREIGN KEY (film_id) REFERENCES film (film_id)
    ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE rental (
  rental_id INT NOT NULL AUTO_INCREMENT,
  rental_date DATETIME NOT NULL,
  inventory_id MEDIUMINT UNSIGNED NOT NULL,
  customer_id SMALLINT UNSIGNED NOT NULL,
  return_date DATETIME DEFAULT NULL,
  staff_id TINYINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (rental_id),
  UNIQUE KEY (rental_date, inventory_id, customer_id),
  CONSTRAINT fk_rental_staff FOREIGN KEY (staff_id) REFERENCES staff (staff_id)
    ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT fk_rental_inventory FOREIGN KEY (inventory_id) REFERENCES inventory (inventory_id)
    ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT fk_rental_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id)
    ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE payment (
  payment_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  customer_id SMALLINT UNSIGNED NOT NULL,
  staff_id TINYINT UNSIGNED NOT NULL,
  rental_id INT DEFAULT NULL,
  amount DECIMAL(5,2) NOT NULL,
  payment_date DATETIME NOT NULL,
  last_update TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (payment_id),
  CONSTRAINT fk_payment_rental FOREIGN KEY (rental_id) REFERENCES rental (rental_id)
    ON DELETE SET NULL ON UPDATE CASCADE,
  CONSTRAINT fk_payment_customer FOREIGN KEY (customer_id) REFERENCES customer (customer_id)
    ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT fk_payment_staff FOREIGN KEY (staff_id) REFERENCES staff (staff_id)
    ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO language (name)
VALUES ('English'), ('Italian'), ('Japanese'), ('Mandarin'), ('French'), ('German');

INSERT INTO film (title, description, release_year, language_id, rental_duration, rental_rate,
                  length, replacement_cost, rating, special_features)
SELECT CONCAT('FILM ', UPPER(SUBSTR(MD5(seq), 1, 8))),
       CONCAT('A ', ELT(1 + seq % 4, 'Epic', 'Quiet', 'Fateful', 'Brilliant'), ' story of a ',
              ELT(1 + seq % 5, 'dentist', 'robot', 'moose', 'astronaut', 'cat')),
       2000 + seq % 20, 1 + seq % 6, 3 + seq % 5, ELT(1 + seq % 3, 0.99, 2.99, 4.99),
       46 + seq * 7 % 140, 9.99 + seq % 21, ELT(1 + seq % 5, 'G', 'PG', 'PG-13', 'R', 'NC-17'),
       ELT(1 + seq % 4, 'Trailers', 'Commentaries,Deleted Scenes', NULL,
           'Trailers,Behind the Scenes')
FROM seq_1_to_60;

INSERT INTO staff (first_name, last_name, picture, email, store_id, username)
VALUES ('Mike', 'Hillyer', X'89504E470D0A1A0A', 'Mike.Hillyer@example.org', 1, 'Mike'),
       ('Jon', 'Stephens', NULL, 'Jon.Stephens@example.org', 2, 'Jon');

INSERT INTO store (manager_staff_id) VALUES (1), (2);

INSERT INTO customer (store_id, first_name, last_name, email, active, create_date)
SELECT 1 + seq % 2, ELT(1 + seq % 6, 'MARY', 'PATRICIA', 'LINDA', 'BARBARA', 'ÉLODIE', 'ŞÜKRÜ'),
       CONCAT('LAST', seq), IF(seq % 9 = 0, NULL, CONCAT('customer', seq, '@example.org')),
       seq % 10 <> 0, TIMESTAMP('2006-02-14 22:04:36') + INTERVAL seq MINUTE
FROM seq_1_to_100;

INSERT INTO inventory (film_id, store_id) SELECT 1 + seq % 60, 1 + seq % 2 FROM seq_1_to_150;

INSERT INTO rental (rental_date, inventory_id, customer_id, return_date, staff_id)
SELECT TIMESTAMP('2005-05-24 22:53:30') + INTERVAL (seq * 47231) SECOND, 1 + seq % 150,
       1 + seq % 100,
       IF(seq % 17 = 0, NULL,
          TIMESTAMP('2005-05-24 22:53:30') + INTERVAL (seq * 47231 + 86400 * (1 + seq % 7)) SECOND),
       1 + seq % 2
FROM seq_1_to_300;

INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date)
SELECT customer_id, staff_id, IF(rental_id % 50 = 0, NULL, rental_id), 0.99 + rental_id % 10,
       rental_date + INTERVAL 37 MINUTE
FROM rental ORDER BY rental_id;

SET FOREIGN_KEY_CHECKS = 1;

CREATE TRIGGER customer_create_date BEFORE INSERT ON customer
  FOR EACH ROW SET NEW.create_date = NOW();

CREATE TRIGGER payment_date BEFORE INSERT ON payment
  FOR EACH ROW SET NEW.payment_date = NOW();

CREATE TRIGGER rental_date BEFORE INSERT ON rental
  FOR EACH ROW SET NEW.rental_date = NOW();
