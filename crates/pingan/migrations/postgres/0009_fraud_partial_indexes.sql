-- History loads (a city's nine months: 1.7 million warnings) open cases that are never worked
-- live: no contact deadline, never closed. Indexes that only ever answer for worked cases skip
-- them, and the resident and subject indexes split the cases between them (matched, unmatched),
-- so each loaded case costs three index entries fewer. Every query of these columns compares
-- them, which implies IS NOT NULL, so both engines still use the indexes; and a query for
-- unmatched cases (resident_id IS NULL) can no longer walk the resident index instead of the
-- subject's.
DROP INDEX fraud_cases_closed;
DROP INDEX fraud_cases_contact_due;
DROP INDEX fraud_cases_subject;
DROP INDEX fraud_cases_resident;
CREATE INDEX fraud_cases_closed ON fraud_cases(closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX fraud_cases_contact_due ON fraud_cases(contact_due_at) WHERE contact_due_at IS NOT NULL;
CREATE INDEX fraud_cases_resident ON fraud_cases(resident_id, state) WHERE resident_id IS NOT NULL;
CREATE INDEX fraud_cases_subject ON fraud_cases(subject_hash, state) WHERE resident_id IS NULL;
