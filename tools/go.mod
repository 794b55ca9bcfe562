module github.com/kesu315/kesu/tools

go 1.26.8
