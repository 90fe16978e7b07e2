# instance la01
# Lawrence 10x5 instance (Table 3, instance 1); also called (setf1) or (F1)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 10 5
 1 21 0 53 4 95 3 55 2 34
 0 21 3 52 4 16 2 26 1 71
 3 39 4 98 1 42 2 31 0 12
 1 77 0 55 4 79 2 66 3 77
 0 83 3 34 2 64 1 19 4 37
 1 54 2 43 4 79 0 92 3 62
 3 69 4 77 1 87 2 87 0 93
 2 38 0 60 1 41 3 24 4 83
 3 17 1 49 4 25 0 44 2 98
 4 77 3 79 2 43 1 75 0 96
