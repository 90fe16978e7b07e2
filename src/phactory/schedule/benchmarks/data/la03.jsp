# instance la03
# Lawrence 10x5 instance (Table 3, instance 3); also called (setf3) or (F3)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 10 5
 1 23 2 45 0 82 4 84 3 38
 2 21 1 29 0 18 4 41 3 50
 2 38 3 54 4 16 0 52 1 52
 4 37 0 54 2 74 1 62 3 57
 4 57 0 81 1 61 3 68 2 30
 4 81 0 79 1 89 2 89 3 11
 3 33 2 20 0 91 4 20 1 66
 4 24 1 84 0 32 2 55 3  8
 4 56 0  7 3 54 2 64 1 39
 4 40 1 83 0 19 2  8 3  7
