# instance la04
# Lawrence 10x5 instance (Table 3, instance 4); also called (setf4) or (F4)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 10 5
 0 12 2 94 3 92 4 91 1  7
 1 19 3 11 4 66 2 21 0 87
 1 14 0 75 3 13 4 16 2 20
 2 95 4 66 0  7 3  7 1 77
 1 45 3  6 4 89 0 15 2 34
 3 77 2 20 0 76 4 88 1 53
 2 74 1 88 0 52 3 27 4  9
 1 88 3 69 0 62 4 98 2 52
 2 61 4  9 0 62 1 52 3 90
 2 54 4  5 3 59 1 15 0 88
