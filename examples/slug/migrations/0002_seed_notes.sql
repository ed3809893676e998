INSERT INTO notes (body) VALUES ('first note');
