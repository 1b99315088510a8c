-- The figures (预警数据) count cases closed, and cases whose contact deadline fell, in a period:
-- without these, each period of each figure reads the whole fraud_cases table.
CREATE INDEX fraud_cases_closed ON fraud_cases(closed_at);
CREATE INDEX fraud_cases_contact_due ON fraud_cases(contact_due_at);
