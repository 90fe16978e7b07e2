# instance la19
# Lawrence 10x10 instance (Table 6, instance 4); also called (seta4) or (A4)
# source: OR-Library jobshop1.txt (contributed by D. C. Mattfeld and R. J. M. Vaessens),
#         copy at github.com/hromadka/jobshop/jobshop1.txt; machines 0-based.
 10 10
 2 44 3  5 5 58 4 97 0  9 7 84 8 77 9 96 1 58 6 89
 4 15 7 31 1 87 8 57 0 77 3 85 2 81 5 39 9 73 6 21
 9 82 6 22 4 10 3 70 1 49 0 40 8 34 2 48 7 80 5 71
 1 91 2 17 7 62 5 75 8 47 4 11 3  7 6 72 9 35 0 55
 6 71 1 90 3 75 0 64 2 94 8 15 4 12 7 67 9 20 5 50
 7 70 5 93 8 77 2 29 4 58 6 93 3 68 1 57 9  7 0 52
 6 87 1 63 4 26 5  6 2 82 3 27 7 56 8 48 9 36 0 95
 0 36 5 15 8 41 9 78 3 76 6 84 4 30 7 76 2 36 1  8
 5 88 2 81 3 13 6 82 4 54 7 13 8 29 9 40 1 78 0 75
 9 88 4 54 6 64 7 32 0 52 2  6 8 54 5 82 3  6 1 26
