-- Change events carry the dialog's party and service resource, so they can be served to those
-- who may see them even after the dialog is gone.
ALTER TABLE change_events ADD COLUMN party TEXT;
ALTER TABLE change_events ADD COLUMN service_resource TEXT;
CREATE INDEX change_events_party ON change_events (party, seq);
