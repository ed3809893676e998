module example.com/herokuapp

// +heroku goVersion go1.25
// +heroku install ./cmd/...

go 1.25
