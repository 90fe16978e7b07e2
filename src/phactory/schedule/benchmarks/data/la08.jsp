# instance la08
# Lawrence 15x5 instance (Table 4, instance 3); also called (setg3) or (G3)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 15 5
 3 92 2 94 0 12 4 91 1  7
 2 21 1 19 0 87 3 11 4 66
 1 14 3 13 0 75 4 16 2 20
 2 95 4 66 0  7 1 77 3  7
 2 34 4 89 3  6 1 45 0 15
 4 88 3 77 2 20 1 53 0 76
 4  9 3 27 0 52 1 88 2 74
 3 69 2 52 0 62 1 88 4 98
 3 90 0 62 4  9 2 61 1 52
 4  5 2 54 3 59 0 88 1 15
 0 41 1 50 4 78 3 53 2 23
 0 38 4 72 2 91 3 68 1 71
 0 45 3 95 4 52 2 25 1  6
 3 30 1 66 0 23 4 36 2 17
 2 95 0 71 3 76 1  8 4 88
