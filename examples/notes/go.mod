module example.com/notes

go 1.22

require (
	github.com/gomodule/redigo v1.9.2
	github.com/lib/pq v1.10.9
)
