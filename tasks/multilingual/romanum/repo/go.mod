module example.com/romanum

go 1.19
