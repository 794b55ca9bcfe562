module github.com/kesu315/kesu/services/intake

go 1.26.8
