# instance la17
# Lawrence 10x10 instance (Table 6, instance 2); also called (seta2) or (A2)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 10 10
 4 18 7 21 9 41 2 45 3 38 8 50 5 84 6 29 1 23 0 82
 8 57 5 16 1 52 7 74 2 38 3 54 6 62 9 37 4 54 0 52
 2 30 4 79 3 68 1 61 8 11 6 89 7 89 0 81 9 81 5 57
 0 91 8  8 3 33 7 55 5 20 2 20 4 32 6 84 1 66 9 24
 9 40 0  7 4 19 8  7 6 83 2 64 5 56 3 54 7  8 1 39
 3 91 2 64 5 40 0 63 7 98 4 74 8 61 1  6 6 42 9 15
 1 80 7 39 8 24 3 75 4 75 5  6 6 44 0 26 2 87 9 22
 1 15 7 43 2 20 0 12 8 26 6 61 3 79 9 22 5  8 4 80
 2 62 3 96 4 22 9  5 0 63 6 33 7 10 8 18 1 36 5 40
 1 96 0 89 5 64 3 95 9 23 7 18 8 15 2 64 6 38 4  8
