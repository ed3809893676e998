module example.com/slugapp

// +heroku goVersion go1.22
// +heroku install ./cmd/...

go 1.22

require github.com/mattn/go-sqlite3 v1.14.53
